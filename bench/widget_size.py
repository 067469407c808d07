"""What the chat widget weighs on the wire: raw, gzip -9 and (if installed) brotli.

.venv/bin/python bench/widget_size.py            # prints a markdown table
.venv/bin/python bench/widget_size.py --check    # exit 1 above the 15 KB gzip budget
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from importlib import resources
from pathlib import Path

from result_files import copy_stdout_to, result_path

BUDGET_GZIP = 15 * 1024


def sizes(data: bytes) -> dict[str, int]:
    """Bytes raw, gzipped at level 9 (what a server or CDN sends), and brotli when available."""
    found = {"raw": len(data), "gzip -9": len(gzip.compress(data, compresslevel=9, mtime=0))}
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        return found
    found["brotli 11"] = len(brotli.compress(data, quality=11))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail above the gzip budget")
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("widget-size", "md"),
        help="also write what is printed here; default bench/results/widget-size-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    data = resources.files("chinwag.web").joinpath("widget", "widget.js").read_bytes()
    measured = sizes(data)
    lines = data.count(b"\n")
    print(f"widget.js sha256 {hashlib.sha256(data).hexdigest()[:12]}, {lines} lines")
    print("| encoding | bytes | KB |")
    print("|---|---|---|")
    for name, size in measured.items():
        print(f"| {name} | {size} | {size / 1024:.1f} |")
    gzipped = measured["gzip -9"]
    print(f"\nbudget: {BUDGET_GZIP / 1024:.0f} KB gzipped -> {gzipped / BUDGET_GZIP:.0%} used")
    if args.check and gzipped > BUDGET_GZIP:
        print("over budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
