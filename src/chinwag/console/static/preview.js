// The widget preview page (framed by the bot page): loads /widget.js exactly as a site's tag
// would, with the bot and publishable key from the URL fragment (#bot=…&key=…), which never
// leaves the browser. The page's policy allows no inline script, hence this file.
const params = new URLSearchParams(location.hash.slice(1));
const tag = document.createElement("script");
tag.src = "/widget.js";
tag.dataset.key = params.get("key") || "";
tag.dataset.bot = params.get("bot") || "";
tag.dataset.open = "";
document.body.append(tag);
