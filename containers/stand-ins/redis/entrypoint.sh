#!/bin/sh
# The official image's entry point, as far as our compose file relies on it.
set -eu
# Options alone (or a config file) are options of the server.
case "${1:-}" in -* | *.conf) set -- redis-server "$@" ;; esac
if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  # The volume may come from elsewhere: hand it to redis, then drop root.
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "${1:-}" = redis-server ]; then
  # The official image is built with protected mode off, so that other containers reach it
  # without a password; Debian's is built with it on. A config file must stay the first argument.
  shift
  case "${1:-}" in
    *.conf) conf=$1; shift; set -- redis-server "$conf" --protected-mode no "$@" ;;
    *) set -- redis-server --protected-mode no "$@" ;;
  esac
fi
exec "$@"
