#!/usr/bin/env bash
# The worker's benchmark (`make bench-worker`; the figures are in docs/worker.md).
#
# Against the local Redis and PostgreSQL, in a database and on a queue of its own:
#   1. idle:  the release worker's resident memory once it has migrated and waits on an empty
#             queue;
#   2. drain: BENCH_VOTES votes from BENCH_VOTERS voters (each voter votes BENCH_VOTES /
#             BENCH_VOTERS times, with increasing ts) are loaded into a staging list, which is
#             then RENAMEd onto the queue in one step; the time from the rename until the worker
#             has committed and acknowledged every vote. The result is checked: one row per
#             voter holding its newest vote, and a tally equal to the GROUP BY;
#   3. copy:  the physical limit of this machine: a plain COPY of the same (id, vote, ts) rows
#             into an empty table with an index on id and no trigger (all BENCH_VOTES rows; a
#             voter's rows repeat, so the index is not unique), and a COPY of the final rows
#             (one per voter) into an empty table keyed on id exactly like `votes`.
# Prints the machine and the numbers, and keeps them in bench/results/worker-<UTC time>.txt.
#
# Settings (environment), with defaults:
#   REDIS_URL=redis://127.0.0.1:6379/0  ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
#   BENCH_VOTES=1000000  BENCH_VOTERS=200000  WORKER_PORT=18092  WORKER_BATCH_SIZE (worker default)
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
ADMIN_DATABASE_URL="${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BENCH_VOTES="${BENCH_VOTES:-1000000}"
BENCH_VOTERS="${BENCH_VOTERS:-200000}"
WORKER_PORT="${WORKER_PORT:-18092}"
CARGO="${CARGO:-cargo}"
export LC_ALL=C

run_id="worker_bench_$$"
database_url="${ADMIN_DATABASE_URL%/*}/$run_id"
work="$(mktemp -d)"
worker_pid=""

cleanup() {
  if [ -n "$worker_pid" ]; then kill -TERM "$worker_pid" 2>/dev/null || true; fi
  wait || true
  psql "$ADMIN_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$run_id\" WITH (FORCE)" || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$run_id*" | xargs -r redis-cli -u "$REDIS_URL" DEL >/dev/null
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
sql() { psql "$database_url" -XAtqc "$1"; }

echo "building the release worker..."
"$CARGO" build --release -p worker --quiet

# The votes: vote i is by voter (i mod voters), for a if (i * 7 + voter) is even, at ts
# 1,700,000,000,000 + i. A voter's newest vote is its last one.
echo "generating $BENCH_VOTES votes from $BENCH_VOTERS voters..."
awk -v votes="$BENCH_VOTES" -v voters="$BENCH_VOTERS" -v key="$run_id:staging" \
  -v resp="$work/votes.resp" -v rows="$work/rows.csv" -v final="$work/final.csv" '
  BEGIN {
    per_command = 1000
    for (i = 0; i < votes; i++) {
      voter = sprintf("bench-voter-%07d", i % voters)
      vote = ((i * 7 + i % voters) % 2 == 0) ? "a" : "b"
      ts = 1700000000000 + i
      if (i % per_command == 0) {
        n = (votes - i < per_command) ? votes - i : per_command
        printf "*%d\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n", n + 2, length(key), key > resp
      }
      message = sprintf("{\"voter_id\":\"%s\",\"vote\":\"%s\",\"ts\":%d}", voter, vote, ts)
      printf "$%d\r\n%s\r\n", length(message), message > resp
      printf "%s,%s,%d\n", voter, vote, ts > rows
      if (i >= votes - voters) printf "%s,%s,%d\n", voter, vote, ts > final
    }
  }'

psql "$ADMIN_DATABASE_URL" -qc "CREATE DATABASE \"$run_id\""

echo "starting the worker..."
PORT="$WORKER_PORT" REDIS_URL="$REDIS_URL" DATABASE_URL="$database_url" VOTE_QUEUE="$run_id" \
  LOG_FORMAT=json target/release/worker >"$work/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 300); do
  if curl -fsS "http://127.0.0.1:$WORKER_PORT/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$WORKER_PORT/readyz" >/dev/null || {
  cat "$work/worker.log" >&2
  exit 1
}
sleep 3 # settle: the first housekeeping rounds and the blocking read
idle_rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$worker_pid/status")

echo "loading the queue..."
redis-cli -u "$REDIS_URL" --pipe <"$work/votes.resp" >/dev/null
loaded=$(redis-cli -u "$REDIS_URL" LLEN "$run_id:staging")
[ "$loaded" -eq "$BENCH_VOTES" ] || {
  echo "loaded $loaded of $BENCH_VOTES" >&2
  exit 1
}

processed() {
  curl -fsS "http://127.0.0.1:$WORKER_PORT/metrics" |
    awk '$1 == "worker_votes_processed_total" { print $2 }'
}

echo "draining..."
started=$(now)
redis-cli -u "$REDIS_URL" RENAME "$run_id:staging" "$run_id" >/dev/null
until [ "$(processed)" = "$BENCH_VOTES" ]; do sleep 0.02; done
finished=$(now)
drain_s=$(seconds "$started" "$finished")
drain_rate=$(rate "$BENCH_VOTES" "$drain_s")
peak_rss_kib=$(awk '/^VmHWM/ { print $2 }' "/proc/$worker_pid/status")
kill -TERM "$worker_pid"
wait "$worker_pid"
worker_pid=""

echo "checking the result..."
rows=$(sql "SELECT count(*) FROM votes")
[ "$rows" -eq "$BENCH_VOTERS" ] || {
  echo "votes has $rows rows, expected $BENCH_VOTERS" >&2
  exit 1
}
wrong=$(psql "$database_url" -XAtq <<SQL
CREATE TEMP TABLE expected (id text, vote text, ts bigint);
\\copy expected FROM '$work/final.csv' CSV
SELECT count(*) FROM expected e LEFT JOIN votes v ON v.id = e.id
WHERE v.id IS NULL OR v.vote <> e.vote OR v.ts <> e.ts;
SQL
)
[ "$wrong" -eq 0 ] || {
  echo "$wrong voters do not hold their newest vote" >&2
  exit 1
}
tally_diff=$(sql "SELECT count(*) FROM (SELECT vote, n FROM vote_tally
  EXCEPT SELECT vote, count(id) FROM votes GROUP BY vote) AS d")
[ "$tally_diff" -eq 0 ] || {
  echo "the tally differs from the GROUP BY" >&2
  exit 1
}

echo "timing COPY..."
sql "CREATE TABLE copy_all (id VARCHAR(255) NOT NULL, vote VARCHAR(255) NOT NULL, ts BIGINT NOT NULL);
     CREATE INDEX ON copy_all (id);
     CREATE TABLE copy_final (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL,
                              ts BIGINT NOT NULL DEFAULT 0);
     CHECKPOINT;"
copy_timed() { # table file -> seconds
  local before after
  before=$(now)
  psql "$database_url" -XAtqc "\\copy $1 FROM '$2' CSV"
  after=$(now)
  seconds "$before" "$after"
}
copy_all_s=$(copy_timed copy_all "$work/rows.csv")
copy_final_s=$(copy_timed copy_final "$work/final.csv")
copy_all_rate=$(rate "$BENCH_VOTES" "$copy_all_s")
copy_final_rate=$(rate "$BENCH_VOTERS" "$copy_final_s")

mkdir -p bench/results
report="bench/results/worker-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "worker benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $(free -g | awk '/Mem:/ { print $2 }') GiB RAM"
  echo "software: $(redis-server --version | awk '{ print $1, $2, $3 }'), $(psql --version)"
  echo "batch size: ${WORKER_BATCH_SIZE:-default}"
  echo
  echo "idle RSS:               $((idle_rss_kib / 1024)).$(((idle_rss_kib % 1024) * 10 / 1024)) MiB (peak during the drain $((peak_rss_kib / 1024)) MiB)"
  echo "drain:                  $BENCH_VOTES votes from $BENCH_VOTERS voters in $drain_s s = $drain_rate votes/s"
  echo "COPY, every row:        $BENCH_VOTES rows in $copy_all_s s = $copy_all_rate rows/s (index on id, no trigger)"
  echo "COPY, one row a voter:  $BENCH_VOTERS rows in $copy_final_s s = $copy_final_rate rows/s (keyed on id like votes)"
  echo "drain / COPY of every row: $(awk -v a="$drain_rate" -v b="$copy_all_rate" 'BEGIN { printf "%.2f", a / b }')"
} | tee "$report"
echo "kept in $report"
