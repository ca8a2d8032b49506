#!/usr/bin/env bash
# `make run`: the three programs, natively, against Redis and PostgreSQL on this machine.
#
# Checks first that Redis and PostgreSQL answer, and if one does not, says how to get it and
# starts nothing. Then builds, starts vote, worker and result, waits until each is healthy,
# prints the two addresses, and runs until Ctrl-C (or SIGTERM), which stops all three.
#
# Settings (environment):
#   REDIS_URL       default redis://127.0.0.1:6379/0
#   DATABASE_URL    default postgres://postgres:postgres@127.0.0.1:5432/postgres
#   VOTE_PORT, RESULT_PORT, WORKER_PORT   default 8080, 8081, 8082
#   BUILD_PROFILE   release (default) or debug: debug builds faster, for tests and hacking
#   LOG_FORMAT      default text here, since a person reads it
#   and everything else the programs read (VOTE_QUEUE, OPTION_A, OPTION_B, RUST_LOG, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
export LOG_FORMAT="${LOG_FORMAT:-text}"
VOTE_PORT="${VOTE_PORT:-8080}"
RESULT_PORT="${RESULT_PORT:-8081}"
WORKER_PORT="${WORKER_PORT:-8082}"
BUILD_PROFILE="${BUILD_PROFILE:-release}"
CARGO="${CARGO:-cargo}"
# How long a program may take from start to a healthy /healthz before the start is abandoned.
HEALTHY_WITHIN_SECS=60

say() { printf 'make run: %s\n' "$*"; }

# "host port" of a URL like scheme://user:password@host:port/path, with a default port.
host_and_port() {
  local rest=${1#*://}
  rest=${rest%%/*}
  rest=${rest%%\?*}
  rest=${rest##*@}
  local host=${rest%:*} port=${rest##*:}
  if [ "$host" = "$rest" ]; then port=$2; fi
  printf '%s %s\n' "${host:-127.0.0.1}" "$port"
}

# Runs a probe for at most SECONDS where `timeout` exists (not on a stock macOS), so that an
# address that drops packets does not hang the start.
with_timeout() {
  if command -v timeout >/dev/null; then
    timeout "$@"
  else
    shift
    "$@"
  fi
}

# A TCP connection to the URL's host and port, for when the service's own client is missing.
tcp_answers() {
  local host port
  read -r host port < <(host_and_port "$1" "$2")
  with_timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

redis_answers() {
  if command -v redis-cli >/dev/null; then
    case $REDIS_URL in
      rediss://*) with_timeout 3 redis-cli --tls -u "$REDIS_URL" ping ;;
      *) with_timeout 3 redis-cli -u "$REDIS_URL" ping ;;
    esac 2>/dev/null | grep -q PONG
  else
    tcp_answers "$REDIS_URL" 6379
  fi
}

postgres_answers() {
  if command -v pg_isready >/dev/null; then
    pg_isready --quiet --timeout=3 --dbname="$DATABASE_URL"
  else
    tcp_answers "$DATABASE_URL" 5432
  fi
}

# The messages name the variable, never its value: a URL can carry a password in more forms
# (user:pass@, ?password=, a key/value string) than a shell can be trusted to find.
missing=()
redis_answers || missing+=("Redis does not answer at the address in REDIS_URL.")
postgres_answers || missing+=("PostgreSQL does not answer at the address in DATABASE_URL.")
if [ ${#missing[@]} -gt 0 ]; then
  for line in "${missing[@]}"; do say "$line" >&2; done
  cat >&2 <<'EOF'

Start them, then `make run` again. Either

  on Debian or Ubuntu:
    sudo apt-get install redis-server postgresql
    sudo systemctl start redis-server postgresql
    sudo -u postgres psql -c "ALTER USER postgres PASSWORD 'postgres'"

  on macOS, with Homebrew:
    brew install redis postgresql@15
    brew services start redis && brew services start postgresql@15

  or with Docker (both on 127.0.0.1 at their usual ports):
    docker compose up -d redis db

Elsewhere, point REDIS_URL and DATABASE_URL at yours.
EOF
  exit 1
fi

say "building the $BUILD_PROFILE binaries"
if [ "$BUILD_PROFILE" = release ]; then
  "$CARGO" build --release -p vote -p worker -p result
else
  "$CARGO" build -p vote -p worker -p result
fi
bin_dir="${CARGO_TARGET_DIR:-target}/$BUILD_PROFILE"

# (Written for bash 3.2 too, macOS's: no `wait -n`, no empty arrays under `set -u`.)
pids=()
stop_all() {
  trap - INT TERM
  say "stopping"
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    # The programs finish their in-flight work and exit within 10 s of SIGTERM.
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap 'stop_all; exit 0' INT TERM

# Copies lines from stdin with the program's name in front.
prefix_lines() {
  local line
  while IFS= read -r line; do printf '[%s] %s\n' "$1" "$line"; done
}

# start NAME PORT: runs the program with its log lines prefixed by its name.
start() {
  PORT=$2 "$bin_dir/$1" > >(prefix_lines "$1") 2>&1 &
  pids+=($!)
}

all_running() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

await_healthy() {
  local name=$1 port=$2 pid=$3 deadline=$((SECONDS + HEALTHY_WITHIN_SECS))
  until PORT=$port "$bin_dir/$name" healthcheck >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited during start-up; its log is above"
      stop_all
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "$name is not healthy after ${HEALTHY_WITHIN_SECS} s"
      stop_all
      exit 1
    fi
    sleep 0.2
  done
}

start worker "$WORKER_PORT"
start vote "$VOTE_PORT"
start result "$RESULT_PORT"
await_healthy worker "$WORKER_PORT" "${pids[0]}"
await_healthy vote "$VOTE_PORT" "${pids[1]}"
await_healthy result "$RESULT_PORT" "${pids[2]}"

say "vote:   http://localhost:$VOTE_PORT"
say "result: http://localhost:$RESULT_PORT"
say "running; Ctrl-C stops all three"

# Until one program exits by itself, or a signal runs the trap (within the second's sleep).
while all_running; do sleep 1; done
say "a program exited by itself; stopping the others"
stop_all
exit 1
