#!/usr/bin/env bash
# Every Dockerfile builds its dependency layer from the workspace's manifests alone, so it must
# copy the manifest of every workspace member (cargo cannot read the workspace otherwise), and
# .dockerignore must let each member in. Nothing runs a Docker build here, so this check is
# what catches a crate added to the workspace but not to the images. `make lint` runs it.
# Usage: scripts/check-dockerfile-members.sh Dockerfile...
set -euo pipefail
cd "$(dirname "$0")/.."

members=$(sed -n '/^members *= *\[/,/\]/p' Cargo.toml | grep -o '"[^"]*"' | tr -d '"')
status=0
for dockerfile in "$@"; do
  for member in $members; do
    if ! grep -q "^COPY $member/Cargo.toml $member/\$" "$dockerfile"; then
      echo "$dockerfile: does not copy $member/Cargo.toml (a workspace member)" >&2
      status=1
    fi
    if ! grep -q "for member in .*\b$member\b" "$dockerfile"; then
      echo "$dockerfile: gives $member no stand-in sources" >&2
      status=1
    fi
  done
done
for member in $members; do
  if ! grep -qx "!$member/" .dockerignore; then
    echo ".dockerignore: does not let $member/ in" >&2
    status=1
  fi
done
exit "$status"
