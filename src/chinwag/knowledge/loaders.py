"""Turn files into text sections: plain text, Markdown, HTML (main content), PDF (per page), CSV.

Loaders are blocking (parsing); callers run them in a worker thread.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from chinwag.errors import IngestFailed

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".csv")
CSV_ROWS_PER_SECTION = 1
# `---` / `url: https://…` / `---` at the top of a text or Markdown file: the document's URL.
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<body>.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)
FRONT_MATTER_URL = re.compile(r"^url:[ \t]*(?P<url>https?://\S+|mailto:\S+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Section:
    """A piece of a document that chunks never cross: a page, a CSV row, or the whole text."""

    text: str
    page: int | None = None
    row: int | None = None


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    source: str
    title: str
    checksum: str
    sections: list[Section]
    markdown: bool = False
    url: str | None = None  # where readers can open it: front matter `url:` or canonical link


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    source: str  # the document's key in the index: its path relative to what was ingested


def find_files(paths: Iterable[str | Path]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Expand files, directories (recursively) and globs into supported files.

    Returns the files and, for arguments that match nothing, (argument, reason).
    """
    found: dict[str, SourceFile] = {}
    missing: list[tuple[str, str]] = []
    for arg in paths:
        text = str(arg)
        path = Path(text)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in SUPPORTED:
                    source = file.relative_to(path).as_posix()
                    found.setdefault(source, SourceFile(file, source))
        elif path.is_file():
            found.setdefault(path.name, SourceFile(path, path.name))
        elif glob.has_magic(text):
            base = _glob_base(path)
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            for file in matches:
                if file.is_file() and file.suffix.lower() in SUPPORTED:
                    source = file.relative_to(base).as_posix()
                    found.setdefault(source, SourceFile(file, source))
            if not matches:
                missing.append((text, "no file matches this pattern"))
        else:
            missing.append((text, "no such file or directory"))
    return list(found.values()), missing


def _glob_base(pattern: Path) -> Path:
    """The directory a glob starts from: its leading parts without wildcards."""
    parts = []
    for part in pattern.parts[:-1]:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def load(file: SourceFile) -> LoadedDocument:
    """Read and parse one file; IngestFailed (with the reason) when it cannot be used."""
    suffix = file.path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise IngestFailed(f"{file.source}: unsupported file type '{suffix}'")
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        raise IngestFailed(f"{file.source}: cannot be read ({exc.strerror})") from exc
    try:
        title, sections, url = loader(data, file.path)
    except IngestFailed:
        raise
    except Exception as exc:
        raise IngestFailed(f"{file.source}: not a readable {suffix[1:]} file ({exc})") from exc
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise IngestFailed(f"{file.source}: no text found")
    return LoadedDocument(
        source=file.source,
        title=title,
        checksum=hashlib.sha256(data).hexdigest(),
        sections=sections,
        markdown=suffix in (".md", ".markdown"),
        url=url,
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


Loaded = tuple[str, list[Section], str | None]  # title, sections, URL


def split_front_matter(text: str) -> tuple[str, str | None]:
    """The text without its front matter, and the `url:` the front matter gives (if any)."""
    found = FRONT_MATTER.match(text)
    if found is None:
        return text, None
    url = FRONT_MATTER_URL.search(found.group("body"))
    return text[found.end() :], url.group("url") if url else None


def _text(data: bytes, path: Path) -> Loaded:
    text, url = split_front_matter(_decode(data))
    return _capitals_heading(text) or _title_from_name(path), [Section(text)], url


def _capitals_heading(text: str) -> str | None:
    """A plain-text file's title line when it has one: a first line in capitals followed by a
    blank line ("OPENING HOURS AND HOW TO FIND US"), in sentence case. A word the text writes
    elsewhere with a capital (a name) or in capitals (ID) keeps that form."""
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    heading = len(lines) > 2 and not lines[1].strip() and len(first) <= 100
    if not heading or first != first.upper() or not any(c.isalpha() for c in first):
        return None
    body = "\n".join(lines[2:])
    words = first.lower().split(" ")
    for i, word in enumerate(words):
        upper, capital = word.upper(), word[:1].upper() + word[1:]
        if len(word) > 1 and re.search(rf"\b{re.escape(upper)}\b", body):
            words[i] = upper
        elif i == 0 or re.search(rf"[\w,;] {re.escape(capital)}\b", body):
            words[i] = capital
    return " ".join(words)


def _markdown(data: bytes, path: Path) -> Loaded:
    text, url = split_front_matter(_decode(data))
    title = next(
        (line[2:].strip() for line in text.splitlines() if line.startswith("# ")),
        _title_from_name(path),
    )
    return title, [Section(text)], url


def _html(data: bytes, path: Path) -> Loaded:
    import trafilatura

    html = _decode(data)
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True)
    metadata = trafilatura.extract_metadata(html)
    title = (metadata.title if metadata is not None else None) or _title_from_name(path)
    url = metadata.url if metadata is not None else None
    return (
        title,
        [Section(text or "")],
        url if url and url.startswith(("http:", "https:")) else None,
    )


def _pdf(data: bytes, path: Path) -> Loaded:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    sections = [
        Section(page.extract_text() or "", page=number)
        for number, page in enumerate(reader.pages, start=1)
    ]
    title = reader.metadata.title if reader.metadata is not None else None
    return title or _title_from_name(path), sections, None


def _csv(data: bytes, path: Path) -> Loaded:
    text = _decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames:
        raise IngestFailed(f"{path.name}: the CSV file has no header row")
    sections: list[Section] = []
    group: list[str] = []
    first_row = 1
    for number, record in enumerate(reader, start=1):
        lines = [f"{k}: {v}" for k, v in record.items() if k is not None and v not in (None, "")]
        group.append("\n".join(lines))
        if len(group) == CSV_ROWS_PER_SECTION:
            sections.append(Section("\n\n".join(group), row=first_row))
            group, first_row = [], number + 1
    if group:
        sections.append(Section("\n\n".join(group), row=first_row))
    return _title_from_name(path), sections, None


LOADERS: dict[str, Callable[[bytes, Path], Loaded]] = {
    ".txt": _text,
    ".md": _markdown,
    ".markdown": _markdown,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".csv": _csv,
}
