#!/usr/bin/env bash
# The result service's benchmark (`make bench-result`; the figures are in docs/result.md).
#
# Starts vote, worker and result (release builds) against the local Redis and PostgreSQL, in a
# database and on a queue of its own, and measures:
#   1. latency:    a vote's acknowledgement by vote -> its frame at a WebSocket client, p50/p99,
#                  under a steady load of new voters;
#   2. fanout:     10,000 WebSocket clients (another process) all receiving every change: the
#                  spread from the first to the last client per change, and result's memory;
#   3. tally-read: one read of the tally at 10,000,000 votes next to the GROUP BY count of the
#                  same table (a database of its own, dropped at the end).
# Prints the machine and the numbers, and keeps them in bench/results/result-<UTC time>.txt.
#
# Settings (environment), with defaults:
#   REDIS_URL=redis://127.0.0.1:6379/0  ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
#   BENCH_RATE=200 (votes/s) BENCH_SECONDS=30  BENCH_CLIENTS=10000  BENCH_CHANGES=20
#   BENCH_VOTES=10000000  VOTE_PORT, RESULT_PORT, WORKER_PORT (default: free ones)
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
ADMIN_DATABASE_URL="${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BENCH_RATE="${BENCH_RATE:-200}"
BENCH_SECONDS="${BENCH_SECONDS:-30}"
BENCH_CLIENTS="${BENCH_CLIENTS:-10000}"
BENCH_CHANGES="${BENCH_CHANGES:-20}"
BENCH_VOTES="${BENCH_VOTES:-10000000}"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
VOTE_PORT="${VOTE_PORT:-$(free_port)}"
RESULT_PORT="${RESULT_PORT:-$(free_port)}"
WORKER_PORT="${WORKER_PORT:-$(free_port)}"
CARGO="${CARGO:-cargo}"

run_id="result_bench_$$"
database_url="${ADMIN_DATABASE_URL%/*}/$run_id"
logs="$(mktemp -d)"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  psql "$ADMIN_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$run_id\" WITH (FORCE)" || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$run_id*" | xargs -r redis-cli -u "$REDIS_URL" DEL >/dev/null
  rm -rf "$logs/bin"
}
trap cleanup EXIT

start() { # name port
  PORT="$2" REDIS_URL="$REDIS_URL" DATABASE_URL="$database_url" VOTE_QUEUE="$run_id" \
    LOG_FORMAT=text "$binaries/$1" >"$logs/$1.log" 2>&1 &
  pids+=("$!")
}

wait_ready() { # pid port
  for _ in $(seq 600); do
    # Ours and ready: a program that could not bind exits, and another may own the port.
    if ! kill -0 "$1" 2>/dev/null; then break; fi
    if curl -fsS "http://127.0.0.1:$2/readyz" >/dev/null 2>&1; then return; fi
    sleep 0.1
  done
  echo "no program of ours is ready on port $2; logs in $logs" >&2
  exit 1
}

# Both ends of 10,000 sockets run on this machine: raise the soft limit of open files to the
# hard one (20,000 here); the programs started below inherit it.
ulimit -n "$(ulimit -Hn)"

"$CARGO" build --release -p vote -p worker -p result --example result_bench
# Copies, so that a build started meanwhile in the same target directory cannot swap a binary
# out from under the run.
binaries="$logs/bin"
mkdir -p "$binaries"
cp target/release/vote target/release/worker target/release/result \
  target/release/examples/result_bench "$binaries/"
bench="$binaries/result_bench"

psql "$ADMIN_DATABASE_URL" -qc "CREATE DATABASE \"$run_id\""
start worker "$WORKER_PORT"
start vote "$VOTE_PORT"
start result "$RESULT_PORT"
result_pid="${pids[2]}"
wait_ready "${pids[0]}" "$WORKER_PORT"
wait_ready "${pids[1]}" "$VOTE_PORT"
wait_ready "$result_pid" "$RESULT_PORT"

mkdir -p bench/results
report="bench/results/result-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "result benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD)"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
  echo "PostgreSQL $(psql "$ADMIN_DATABASE_URL" -Atc 'SHOW server_version'), Redis $(redis-cli -u "$REDIS_URL" INFO server | sed -n 's/^redis_version:\(.*\)\r$/\1/p')"
  "$bench" latency --vote "http://127.0.0.1:$VOTE_PORT" --result "http://127.0.0.1:$RESULT_PORT" \
    --rate "$BENCH_RATE" --seconds "$BENCH_SECONDS"
  "$bench" fanout --vote "http://127.0.0.1:$VOTE_PORT" --result "http://127.0.0.1:$RESULT_PORT" \
    --clients "$BENCH_CLIENTS" --changes "$BENCH_CHANGES" --result-pid "$result_pid"
  "$bench" tally-read --database-url "$ADMIN_DATABASE_URL" --votes "$BENCH_VOTES"
} | tee "$report"
echo "written to $report"
