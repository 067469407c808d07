#!/usr/bin/env bash
# run_streaming.sh - measure chinwag's streamed answers with the peer harness
# (bench/harness/run_peers.sh), next to the `direct` baseline and the `minimal` peer, in the
# same run: once with SQLite, once with PostgreSQL (a fresh database each time).
#
#   bash bench/run_streaming.sh                     # SQLite, then PostgreSQL (~9 min)
#   QUICK=1 bash bench/run_streaming.sh             # smoke test of the setup (tiny counts, ~4 min)
#   DBS=sqlite bash bench/run_streaming.sh          # one database only (sqlite | postgres)
#   CONCURRENCY="1 50 200" bash bench/run_streaming.sh
#   CHINWAG_PEERS="langserve litellm minimal" bash bench/run_streaming.sh   # peers next to chinwag (default: minimal; "" for none)
#   CHINWAG_VENV=/path/to/venv bash bench/run_streaming.sh   # the venv chinwag is installed in (default: .venv)
#   NAME=peers bash bench/run_streaming.sh          # results named peers-<stamp>-<db>.* (default: streaming)
#   REF=d01da74 bash bench/run_streaming.sh          # another commit's src/ (for A/B runs back to back)
#   BOTS="plain vinhuset" (default): each chinwag bot measured in turn against the same server:
#   `plain` (bench/bots/plain.yaml: `main` only, the relay path) and the demo bot `vinhuset`
#   (semantic router, hybrid retrieval, optional flows); the peers run once, with the first bot.
#   PROFILE_DBS="sqlite" (default) adds one py-spy profile per peer at c=$PROFILE_C (default 50)
#   on those databases; PROFILE_DBS="" turns profiling off.
#
# Needs: LOCKED=1 bash bench/harness/setup_venvs.sh once; PostgreSQL on 127.0.0.1:5432
# (user postgres, no password; PG_ADMIN_URL to change) for the postgres run.
#
# chinwag runs as the harness's CUSTOM peer: `chinwag demo` on 127.0.0.1:$CHINWAG_PORT, pinned to
# the server-under-test core by run_peers.sh, answering with the fake LLM ($FAKE_LLM_URL).
# The .extra.json holds, per completed answer (warm-ups included): the event log's commits that
# wrote events (log_commits_per_answer) and, on PostgreSQL, every transaction the database
# counted (postgres_commits_per_answer, pg_stat_database.xact_commit) and its CPU. Run one
# concurrency per run (CONCURRENCY=1, then 10, ...) to get them per concurrency.
# Results: bench/results/$NAME-<YYYYMMDD-HHMMSS>-<db>[-quick].{jsonl,md,extra.json} (and
# .pyspy-<target>-c<N>.txt profiles); logs: /tmp/chinwag-bench/logs-*.
# Everything this script starts is stopped by PID (run_peers.sh does the same for its children).
#
# The code measured is the last commit (HEAD), not the working tree: src/ is exported with
# `git archive HEAD` into $WORK and put first on PYTHONPATH, so edits made while the benchmark runs
# (or uncommitted ones) cannot leak into it. SOURCE=worktree measures the working tree instead.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
HARNESS="$BENCH/harness"
CHINWAG_VENV=${CHINWAG_VENV:-"$ROOT/.venv"}
[[ -d "$CHINWAG_VENV" ]] && CHINWAG_VENV="$(cd "$CHINWAG_VENV" && pwd)"  # the runs cd elsewhere
CHINWAG=${CHINWAG:-"$CHINWAG_VENV/bin/chinwag"}
NAME=${NAME:-streaming}
VENV_HARNESS=${VENV_HARNESS:-/tmp/venv-harness}
PY="$VENV_HARNESS/bin/python"
DBS=${DBS:-"sqlite postgres"}
BOTS=${BOTS:-"plain vinhuset"}
PROFILE_DBS=${PROFILE_DBS-"sqlite postgres"}
PROFILE_C_DEFAULT=${PROFILE_C:-50}
export CONCURRENCY=${CONCURRENCY:-"1 10 50 200"}
CHINWAG_PORT=${CHINWAG_PORT:-8905}
PG_ADMIN_URL=${PG_ADMIN_URL:-"postgresql://postgres@127.0.0.1:5432/test"}
PG_DB=${PG_DB:-chinwag_bench}
WORK=${WORK:-/tmp/chinwag-bench}
RESULTS="$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS" "$WORK"

[[ -x "$PY" ]] || { echo "missing $VENV_HARNESS: run 'LOCKED=1 bash bench/harness/setup_venvs.sh' first" >&2; exit 2; }
[[ -x "$CHINWAG" ]] || { echo "missing $CHINWAG (the project venv: make install, or set CHINWAG_VENV)" >&2; exit 2; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$CHINWAG_PORT" || { echo "port $CHINWAG_PORT is in use on 127.0.0.1" >&2; exit 2; }

CHILD=""
cleanup() { [[ -n "$CHILD" ]] && kill -TERM "$CHILD" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

SOURCE=${SOURCE:-head}
REF=${REF:-HEAD}
COMMIT=$(git -C "$ROOT" rev-parse --short "$REF")
DIRTY=$(git -C "$ROOT" status --porcelain -- src | wc -l)
if [[ "$SOURCE" == head ]]; then
  SRC="$WORK/src-$STAMP-$COMMIT"
  mkdir -p "$SRC"
  git -C "$ROOT" archive --format=tar "$REF" src | tar -x -C "$SRC"
  PYPATH="$SRC/src"
  CODE="$COMMIT"
else
  PYPATH=""
  CODE="$COMMIT+worktree($DIRTY changed in src)"
fi
got=$(cd "$WORK" && PYTHONPATH="$PYPATH" "$CHINWAG_VENV/bin/python" -c 'import chinwag; print(chinwag.__file__)')
echo "measuring chinwag $CODE from $got" >&2
[[ -z "$PYPATH" || "$got" == "$PYPATH"/* ]] || { echo "PYTHONPATH snapshot not picked up ($got)" >&2; exit 2; }

VERSIONS=$("$CHINWAG_VENV/bin/python" - <<'EOF'
import importlib.metadata as m
pk = ["chinwag", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "openai", "httpx2",
      "sqlalchemy", "aiosqlite", "asyncpg", "pydantic", "orjson"]
out = []
for p in pk:
    try: out.append(f"{p}=={m.version(p)}")
    except Exception: out.append(f"{p}==?")
print(",".join(out))
EOF
)
VERSIONS="$VERSIONS,commit=$CODE"

xact_commits() {  # DB: transactions PostgreSQL committed in the bench database (0 on SQLite)
  [[ "$1" == postgres ]] || { echo 0; return; }
  psql -At "$PG_ADMIN_URL" -c "select xact_commit from pg_stat_database where datname = '$PG_DB'"
}

pg_cpu_ticks() {  # CPU ticks of the whole PostgreSQL server (postmaster + all backends)
  local pm
  pm=$(pgrep -o -x postgres || true)
  [[ -n "$pm" ]] || { echo 0; return; }
  "$PY" -c "import sys; sys.path.insert(0, '$HARNESS'); from loadgen import tree_cpu_ticks; print(tree_cpu_ticks($pm))"
}

for db in $DBS; do
  run_stamp="$STAMP-$db${QUICK:+-quick}"
  datadir="$WORK/data-$run_stamp"
  mkdir -p "$datadir"
  case "$db" in
    sqlite)
      url="sqlite+aiosqlite:///$datadir/bench.db"
      ;;
    postgres)
      psql -q "$PG_ADMIN_URL" -c "drop database if exists $PG_DB" -c "create database $PG_DB" >/dev/null
      url="postgresql+asyncpg://postgres@127.0.0.1:5432/$PG_DB"
      ;;
    *) echo "unknown database '$db' (sqlite | postgres)" >&2; exit 2 ;;
  esac
  # Authentication stays on: the load generator sends a key made for the run (an admin key,
  # which the rate limits exempt; the limits are raised as well, for any other key).
  (cd "$datadir" && PYTHONPATH="$PYPATH" CHINWAG_DATABASE_URL="$url" "$CHINWAG" db upgrade >&2)
  key=$(cd "$datadir" && PYTHONPATH="$PYPATH" CHINWAG_DATABASE_URL="$url" \
        "$CHINWAG" keys create --kind admin --name bench | sed -n 's/^ *key: //p')
  [[ -n "$key" ]] || { echo "could not create a key for the run" >&2; exit 2; }
  (cd "$datadir" && PYTHONPATH="$PYPATH" CHINWAG_DATABASE_URL="$url" "$CHINWAG" bots import "$BENCH/bots/plain.yaml" >&2)
  out="$RESULTS/$NAME-$run_stamp.jsonl"
  logdir="$WORK/logs-$run_stamp"
  profile_c=""
  [[ " $PROFILE_DBS " == *" $db "* ]] && profile_c=$PROFILE_C_DEFAULT
  echo "=== chinwag on $db: $out (logs $logdir)" >&2
  pg0=$(pg_cpu_ticks); t0=$(date +%s.%N); xact0=$(xact_commits "$db")
  # $FAKE_LLM_URL is expanded by run_peers.sh's `bash -c`, where it is set.
  custom_cmd="env PYTHONPATH='$PYPATH' CHINWAG_DATABASE_URL='$url' CHINWAG_DATA_DIR='$datadir' CHINWAG_LLM_BASE_URL=\$FAKE_LLM_URL"
  custom_cmd+=" CHINWAG_RATE_LIMIT_KEY=1000000/minute CHINWAG_RATE_LIMIT_USER=1000000/minute"
  custom_cmd+=" CHINWAG_RATE_LIMIT_IP=1000000/minute"
  custom_cmd+=" CHINWAG_LLM_MODEL=fake-gpt '$CHINWAG' demo --host 127.0.0.1 --port $CHINWAG_PORT"
  peers="${CHINWAG_PEERS-minimal}"
  for bot in $BOTS; do
    # The demo bot declines what is not its business in one word ("foxes"): ask it a wine question.
    message="${CHINWAG_BENCH_MESSAGE:-}"
    [[ -z "$message" && "$bot" == vinhuset ]] && message="Which wine goes with lamb?"
    CHINWAG_BENCH_MESSAGE="$message" PEERS="$peers custom" \
    CUSTOM_LABEL="chinwag-$bot-$db" CUSTOM_DIR="$datadir" CUSTOM_CMD="$custom_cmd" \
    CUSTOM_URL="http://127.0.0.1:$CHINWAG_PORT/v1/bots/$bot/messages" \
    CUSTOM_READY="http://127.0.0.1:$CHINWAG_PORT/healthz" \
    CUSTOM_FORMAT="$BENCH/chinwag_format.py:ChinwagFormat" CUSTOM_VERSIONS="$VERSIONS;db=$db;bot=$bot" \
    CUSTOM_HEADER="Authorization: Bearer $key" \
    PROFILE_C="$profile_c" RUN_ID="$run_stamp" OUT="$out" LOGDIR="$logdir/$bot" \
      bash "$HARNESS/run_peers.sh" &
    CHILD=$!
    wait "$CHILD" || echo "!!! run_peers.sh failed for $bot on $db" >&2
    CHILD=""
    peers=""  # the peers once per database; `direct` (the baseline) is measured with each bot
  done
  t1=$(date +%s.%N); pg1=$(pg_cpu_ticks); xact1=$(xact_commits "$db")
  [[ "$(git -C "$ROOT" rev-parse --short "$REF")" == "$COMMIT" ]] \
    || echo "note: HEAD moved during the run; measured $CODE (snapshot), now $(git -C "$ROOT" rev-parse --short HEAD)" >&2
  # Extra line for the record: how many answers chinwag completed, and (PostgreSQL) the database
  # server's CPU over the whole run, which run_peers.sh does not see (it is not a child of chinwag).
  # Events committed together carry one created_at: the event log's transactions that wrote events.
  counts_sql="select (select count(*) from messages where role='assistant' and status='complete'),
    (select count(distinct created_at) from stream_events where seq > 1)"
  if [[ "$db" == postgres ]]; then
    counts=$(psql -At -F ' ' "${PG_ADMIN_URL%/*}/$PG_DB" -c "$counts_sql")
  else
    counts=$("$CHINWAG_VENV/bin/python" -c "import sqlite3,sys; print(*sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone())" "$datadir/bench.db" "$counts_sql")
  fi
  read -r answers log_commits <<<"$counts"
  "$PY" - "${out%.jsonl}.extra.json" "$db" "$answers" "$pg0" "$pg1" "$t0" "$t1" "$CODE" "$log_commits" "$xact0" "$xact1" <<'EOF'
import json, os, sys
path, db, answers, pg0, pg1, t0, t1, code, log_commits, xact0, xact1 = sys.argv[1:]
tck = os.sysconf("SC_CLK_TCK"); answers = int(answers or 0)
pg_s = (int(pg1) - int(pg0)) / tck
xacts = int(xact1 or 0) - int(xact0 or 0)
per = lambda n: round(n / answers, 2) if answers else None  # noqa: E731
d = {"db": db, "commit": code, "answers_completed_incl_warmup_and_profile": answers, "wall_s": round(float(t1) - float(t0), 1),
     "postgres_cpu_s_whole_run": round(pg_s, 2) if db == "postgres" else None,
     "postgres_cpu_ms_per_answer": round(1000 * pg_s / answers, 2) if db == "postgres" and answers else None,
     # the event log's transactions that wrote events after the accept, per answer
     "log_commits_per_answer": per(int(log_commits or 0)),
     # every transaction PostgreSQL committed in the bench database during the run (accepts,
     # reads, heartbeats and the event log), per completed answer
     "postgres_commits_per_answer": per(xacts) if db == "postgres" else None}
json.dump(d, open(path, "w")); print(json.dumps(d), file=sys.stderr)
EOF
done
echo "tables: $RESULTS/$NAME-$STAMP-*.md" >&2
