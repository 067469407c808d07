"""bench/ stays a front page a fresh clone can rerun: its README is short, every result file is
named by the scheme and by a document, and every link into bench/ leads somewhere."""

from __future__ import annotations

import fnmatch
import importlib.util
import itertools
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOCUMENTS = sorted(
    {
        *BENCH.glob("*.md"),
        *BENCH.glob("*/README.md"),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
    }
)
REFERENCE = re.compile(r"results/([a-z]+(?:-[a-z]+)*-\d[\w.*{},-]*)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _scheme() -> re.Pattern[str]:
    spec = importlib.util.spec_from_file_location("result_files", BENCH / "result_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NAME  # type: ignore[no-any-return]


def _expand(pattern: str) -> list[str]:
    """`a-{x,y}.*` -> [`a-x.*`, `a-y.*`] (the brace lists the documents use)."""
    pieces = re.split(r"\{([^{}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(pieces)]
    return ["".join(c) for c in itertools.product(*choices)]


def _references() -> dict[str, Path]:
    """Every result file pattern a document names -> the first document naming it."""
    found: dict[str, Path] = {}
    for doc in DOCUMENTS:
        for match in REFERENCE.finditer(doc.read_text()):
            for pattern in _expand(match.group(1).rstrip(".,")):
                found.setdefault(pattern, doc)
    return found


def _kept_results() -> list[str]:
    """The result files in git: a run made since the last commit may lie there unnamed until
    it is written up or deleted."""
    listed = subprocess.run(
        ["git", "ls-files", "--", "bench/results"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): all of them
        return sorted(p.name for p in RESULTS.iterdir())
    return sorted(Path(line).name for line in listed.stdout.splitlines())


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in doc.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (heading := re.match(r"#{1,6} (.*)", line)):
            slug = _slug(heading.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_the_bench_readme_is_a_front_page() -> None:
    text = (BENCH / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert "(bench/README.md)" in (ROOT / "README.md").read_text()


def test_every_result_file_follows_the_naming_scheme() -> None:
    scheme = _scheme()
    assert [name for name in _kept_results() if not scheme.fullmatch(name)] == []


def test_every_result_a_document_names_exists() -> None:
    names = _kept_results()
    missing = [
        f"{doc.relative_to(ROOT)}: results/{pattern}"
        for pattern, doc in _references().items()
        if not fnmatch.filter(names, pattern)
    ]
    assert missing == []


def test_every_result_file_is_named_by_a_document() -> None:
    """A result (the files sharing a stem: .md, .jsonl, .extra.json, profiles) is kept only when
    bench/HISTORY.md or another document names it; name a new run there or delete it."""
    named = {
        name.split(".", 1)[0]
        for pattern in _references()
        for name in fnmatch.filter(_kept_results(), pattern)
    }
    assert [name for name in _kept_results() if name.split(".", 1)[0] not in named] == []


def test_links_into_bench_lead_somewhere() -> None:
    broken = []
    for doc in DOCUMENTS:
        inside = doc.is_relative_to(BENCH)
        for target in LINK.findall(doc.read_text()):
            if "://" in target or target.startswith("mailto:") or not (inside or "bench" in target):
                continue
            path, _, anchor = target.partition("#")
            where = (doc.parent / path).resolve() if path else doc
            if not where.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
            elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []
