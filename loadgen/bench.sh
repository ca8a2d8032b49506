#!/usr/bin/env bash
# The whole app's throughput, as `make run` starts it (release builds, one replica of each):
# the load generator posts votes to vote and waits until result shows them.
#
# Runs against the local Redis and PostgreSQL, in a database and a queue of its own that it
# removes afterwards, on free ports it picks. Rerun it and compare with docs/running.md.
#   loadgen/bench.sh                 the default scenarios
#   VOTES=100000 loadgen/bench.sh    more votes per scenario
set -euo pipefail
cd "$(dirname "$0")/.."

VOTES="${VOTES:-20000}"
ADMIN_URL="${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
database="loadgen_bench_$$"
queue="bench:loadgen:$$"
log="$(mktemp)"
run_pid=""

cleanup() {
  if [ -n "$run_pid" ]; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  psql --quiet "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$queue*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A port nothing listens on now (other benchmarks may run on this machine at the same time).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}
vote_port=$(free_port)
result_port=$(free_port)
worker_port=$(free_port)

cargo build --release -p loadgen -p vote -p worker -p result
psql --quiet "$ADMIN_URL" -c "CREATE DATABASE $database"

REDIS_URL="$REDIS_URL" DATABASE_URL="${ADMIN_URL%/*}/$database" VOTE_QUEUE="$queue" \
  VOTE_PORT="$vote_port" RESULT_PORT="$result_port" WORKER_PORT="$worker_port" RUST_LOG=warn \
  scripts/run.sh >"$log" 2>&1 &
run_pid=$!
until grep -q 'Ctrl-C stops all three' "$log"; do
  if ! kill -0 "$run_pid" 2>/dev/null; then cat "$log"; exit 1; fi
  sleep 0.5
done

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $VOTES votes per scenario"
scenario() {
  echo
  echo "== $1"
  shift
  target/release/loadgen --url "http://127.0.0.1:$vote_port" \
    --wait-result "http://127.0.0.1:$result_port" \
    --votes "$VOTES" --timeout-secs 300 "$@"
}
scenario "new voters, form, 32 at once" --concurrency 32
scenario "new voters, JSON API, 32 at once" --concurrency 32 --endpoint api
scenario "re-votes by 1000 voters, form, 32 at once" --concurrency 32 --voters 1000
scenario "new voters, form, 1 at once (latency without queueing)" --concurrency 1 --votes 2000
