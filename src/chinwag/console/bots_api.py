"""Bot configurations as YAML (the console's editor): read a version, check text, diff two."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from chinwag.bots.activation import activate, problem_dicts
from chinwag.bots.index_check import with_index_check
from chinwag.bots.schemas import BotSaved
from chinwag.bots.service import config_json, get_bot, get_source, get_version
from chinwag.config.bot import BotConfig
from chinwag.console.bot_yaml import check_yaml, diff, diff_texts, version_text
from chinwag.errors import BotConfigInvalid, BotIdMismatch
from chinwag.http.deps import PrincipalDep
from chinwag.http.problems import problem_responses
from chinwag.http.runtime import Services, ServicesDep
from chinwag.secrets import fresh_secrets

# Every bot change checks `${NAME}`s against the secrets file as it is now.
router = APIRouter(prefix="/v1/bots", tags=["bots"], dependencies=[Depends(fresh_secrets)])
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Default: the active one.")]


async def _config(
    services: Services, bot_id: str, version: int | None
) -> tuple[int, BotConfig, str | None]:
    """A version's number, configuration and YAML source (default: the active version)."""
    async with services.db.read() as conn:
        if version is None:
            bot = await get_bot(conn, bot_id)
            number, config = bot.version, bot.config
        else:
            number, config = version, await get_version(conn, bot_id, version)
        return number, config, await get_source(conn, bot_id, number)


YAML_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The configuration as YAML.", "content": {"application/yaml": {}}}
}


@router.get("/{bot_id}/yaml", response_class=PlainTextResponse, responses=YAML_DOC)
async def bot_yaml(
    bot_id: str, principal: PrincipalDep, services: ServicesDep, version: Version = None
) -> PlainTextResponse:
    """A version's configuration as YAML (admin, the bot's secret key): the text it was saved
    from, comments and layout as written; for a version saved as JSON, the settings that differ
    from the defaults."""
    principal.require_bot(bot_id, kinds=("secret",))
    _, config, source = await _config(services, bot_id, version)
    return PlainTextResponse(version_text(config, source), media_type="application/yaml")


class YamlSaveIn(BaseModel):
    yaml: str = Field(max_length=2_000_000, description="The bot configuration as YAML.")
    note: str | None = Field(
        None, max_length=200, description="What changed and why, shown in the version history."
    )


YAML_SAVE_REFUSED = problem_responses(
    described={
        422: "The YAML has errors (`bot_config_invalid`, each problem with its `line`) or "
        "another bot's id (`bot_id_mismatch`); nothing was saved."
    }
)


@router.put("/{bot_id}/yaml", response_model=BotSaved, responses=YAML_SAVE_REFUSED)
async def save_yaml(
    bot_id: str,
    body: Annotated[YamlSaveIn, Body()],
    principal: PrincipalDep,
    services: ServicesDep,
) -> BotSaved:
    """Save YAML text as the bot's new active version (admin), the text itself kept: the
    editor shows it again with its comments and layout, and diffs compare texts. A changed
    text is a new version even when only a comment changed."""
    principal.require_admin()
    report, problems = check_yaml(body.yaml)
    if report is None or report.config is None:
        errors = sum(p["severity"] == "error" for p in problems)
        raise BotConfigInvalid(
            f"the bot configuration has {errors} error(s); nothing was saved", problems=problems
        )
    if report.config.id != bot_id:
        raise BotIdMismatch(f"the configuration's id is '{report.config.id}', the URL's '{bot_id}'")
    checked = await with_index_check(report, services.knowledge)
    saved = await activate(
        services.db, checked, note=body.note or None, source=body.yaml, text_counts=True
    )
    if saved.created:
        await services.generations.prepare(saved.config, saved.version)
    return BotSaved(
        id=saved.id,
        version=saved.version,
        changed=saved.created,
        warnings=problem_dicts(checked.warnings),
    )


class YamlIn(BaseModel):
    yaml: str = Field(max_length=2_000_000, description="A bot configuration as YAML.")


class YamlProblem(BaseModel):
    path: str
    severity: str
    code: str
    message: str
    hint: str
    line: int | None = Field(description="1-based line in the text; null: the whole document.")


class YamlChecked(BaseModel):
    ok: bool = Field(description="No errors: the config can be saved (PUT /v1/bots/{id}).")
    config: dict[str, Any] | None = Field(description="The configuration as JSON, when valid.")
    problems: list[YamlProblem]


@router.post("/validate-yaml", response_model=YamlChecked)
async def validate_yaml(
    body: Annotated[YamlIn, Body()], principal: PrincipalDep, services: ServicesDep
) -> YamlChecked:
    """Validate YAML text without saving (admin): every problem with its line, and the JSON
    to PUT when there is no error."""
    principal.require_admin()
    report, problems = check_yaml(body.yaml)
    if report is not None and report.config is not None:
        checked = await with_index_check(report, services.knowledge)
        known = {(p["path"], p["code"]) for p in problems}
        problems += [
            dict(p.as_dict(), line=None) for p in checked.problems if (p.path, p.code) not in known
        ]
        report = checked
    config = None if report is None or report.config is None else config_json(report.config)
    return YamlChecked(
        ok=config is not None,
        config=config,
        problems=[YamlProblem.model_validate(p) for p in problems],
    )


class DiffOut(BaseModel):
    old: int
    new: int
    diff: str = Field(description="Unified diff of the two versions' YAML.")


@router.get("/{bot_id}/diff", response_model=DiffOut)
async def version_diff(
    bot_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    old: Annotated[int, Query(ge=1, le=2**31 - 1)],
    new: Version = None,
) -> DiffOut:
    """What changed from version `old` to version `new` (default: the active one)."""
    principal.require_bot(bot_id, kinds=("secret",))
    _, before, before_source = await _config(services, bot_id, old)
    number, after, after_source = await _config(services, bot_id, new)
    old_text, new_text = diff_texts((before, before_source), (after, after_source))
    text = diff(old_text, new_text, old_name=f"{bot_id} v{old}", new_name=f"{bot_id} v{number}")
    return DiffOut(old=old, new=number, diff=text)
