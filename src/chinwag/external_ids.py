"""What chinwag accepts as an external id: the id an embedding site gives an end user or a
session (`user_id`, `session_id`, `X-Chinwag-Session-Id`, the OpenAI `user`).

Every request model, query and header that takes one, and the columns that store it, use these.
"""

from __future__ import annotations

# Letters, digits and `_ . : @ -`: an email address or a site's own ids fit, and the id is safe
# in a URL path and in a header.
EXTERNAL_ID_PATTERN = r"^[\w.:@-]+$"
EXTERNAL_ID_MAX_LENGTH = 200
