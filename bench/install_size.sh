#!/usr/bin/env bash
# install_size.sh - what `make install` costs a new user: the cold install (empty pip cache,
# so llama-cpp-python compiles), the warm one (the same cache, a new .venv), the size of .venv
# and its largest packages. Works on a fresh clone of this checkout's HEAD in a temp dir; the
# pip cache is a temp dir too, so the machine's own cache is neither used nor filled.
#
#   bash bench/install_size.sh                 # ~6 min on 2 cores; prints and writes a result
#   OUT=bench/results/install-X.md bash bench/install_size.sh
#
# Every process it starts ends with it; the temp dirs are removed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/install-$STAMP.md}
WORK=$(mktemp -d /tmp/chinwag-install-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

git clone --quiet "$ROOT" "$WORK/src"
COMMIT=$(git -C "$WORK/src" rev-parse --short HEAD)
export PIP_CACHE_DIR="$WORK/pip-cache"

timed_install() {  # -> seconds of wall time for `make install` in the clone
  local start end
  start=$(date +%s.%N)
  make -C "$WORK/src" install >"$WORK/install-$1.log" 2>&1 || {
    tail -20 "$WORK/install-$1.log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.0f}')"
}

cold=$(timed_install cold)
venv_mb=$(du -sm "$WORK/src/.venv" | cut -f1)
largest=$(cd "$WORK/src/.venv/lib/python3"*/site-packages && du -sm -- * | sort -rn | head -12 \
  | awk '{printf "%s %s MB, ", $2, $1}')
heavy=$("$WORK/src/.venv/bin/python" - <<'EOF'
import importlib.util
names = ["torch", "transformers", "sentence_transformers", "scipy", "sympy"]
print(", ".join(n for n in names if importlib.util.find_spec(n)) or "none")
EOF
)
rm -rf "$WORK/src/.venv" "$WORK/src/node_modules"
warm=$(timed_install warm)

{
  echo "# make install on a fresh clone ($STAMP, commit $COMMIT, $(nproc) cores)"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| cold install (empty pip cache; llama-cpp-python compiles) | ${cold} s |"
  echo "| warm install (same cache, new .venv) | ${warm} s |"
  echo "| .venv size | ${venv_mb} MB |"
  echo "| torch, transformers, sentence-transformers, SciPy, SymPy installed | ${heavy} |"
  echo
  echo "Largest in site-packages: ${largest%, }."
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$OUT"
