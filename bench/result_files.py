"""Result file names: bench/results/<benchmark>-<YYYYMMDD-HHMMSS>[-<variant>][.<part>].<ext>.

The stem `<benchmark>-<stamp>[-<variant>]` is one result: one run of one benchmark, stamped when
it started; the variant says what was special about it (sqlite, postgres, quick, ab, local, ...).
`.<part>` names a further file of the same result (extra, pyspy-<target>-c<N>, ...). The shell
scripts (run_streaming.sh, harness/run_peers.sh) write the same names.
"""

from __future__ import annotations

import atexit
import re
import sys
import time
from pathlib import Path
from typing import TextIO

RESULTS = Path(__file__).resolve().parent / "results"
NAME = re.compile(
    r"(?P<benchmark>[a-z]+(?:-[a-z]+)*)-(?P<stamp>\d{8}-\d{6})"
    r"(?:-(?P<variant>[a-z0-9]+(?:-[a-z0-9]+)*))?"
    r"(?:\.(?P<part>[a-z0-9]+(?:-[a-z0-9]+)*))?"
    r"\.(?P<ext>md|json|jsonl|txt|txt\.gz)"
)


def result_path(benchmark: str, ext: str, *, variant: str | None = None) -> Path:
    """Where a run starting now writes its result: bench/results/, named by the scheme."""
    name = f"{benchmark}-{time.strftime('%Y%m%d-%H%M%S')}{f'-{variant}' if variant else ''}.{ext}"
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} does not follow <benchmark>-<stamp>[-<variant>].<ext>")
    return RESULTS / name


class _Tee:
    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:  # uvicorn's log formatter asks (a fake server in a benchmark)
        return False


def copy_stdout_to(path: Path) -> None:
    """From now until the script exits, write everything it prints to `path` as well."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = path.open("w")
    console = sys.stdout
    sys.stdout = _Tee(console, out)  # type: ignore[assignment]

    def close() -> None:
        sys.stdout = console
        out.close()
        print(f"results: {path}", file=sys.stderr)

    atexit.register(close)
