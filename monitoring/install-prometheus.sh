#!/usr/bin/env bash
# Installs Prometheus and promtool at one pinned version into a folder (make prometheus-tools).
#   monitoring/install-prometheus.sh DESTINATION VERSION
# VERSION is the Debian package's (2.53.3+ds1-2); the binaries come from either of:
# - on Debian: Debian 13's packages, fetched with apt from the mirror this machine already uses,
#   through a throwaway apt configuration (the system's sources stay as they are), and unpacked,
#   not installed. Debian 12's own prometheus (2.42) lacks the Kubernetes service discovery that
#   monitoring/prometheus-kubernetes.yml uses, so promtool could not check that file. The
#   binaries need only libc 2.34, which Debian 12 has.
# - elsewhere (an Ubuntu CI runner, say), with a Docker engine: the upstream release of the
#   same version, copied out of the prom/prometheus image that compose runs.
set -euo pipefail
destination=$1
version=$2
# 2.53.3+ds1-2 -> 2.53.3: the upstream release the package was made from.
upstream=${version%%[+-]*}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first Debian mirror of this machine's apt sources, in either format; empty on a machine
# that has none.
debian_mirror() {
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -r "$sources" ]; then
    awk '/^URIs:/ {print $2; exit}' "$sources"
  elif [ -r /etc/apt/sources.list ]; then
    awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) {print $i; exit}}' \
      /etc/apt/sources.list
  fi
}

from_debian() {
  local mirror=$1
  mkdir -p "$work"/lists/partial "$work"/cache/archives/partial "$work"/etc/sources.list.d \
    "$work"/etc/preferences.d "$work"/debs
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
    > "$work"/etc/sources.list
  cat > "$work"/apt.conf <<CONF
Dir::Etc::sourcelist "$work/etc/sources.list";
Dir::Etc::sourceparts "$work/etc/sources.list.d";
Dir::Etc::preferencesparts "$work/etc/preferences.d";
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
CONF
  APT_CONFIG="$work"/apt.conf apt-get update -qq
  # apt's sandbox user cannot write into a folder of root's; the download is checked all the same.
  chmod 777 "$work"/debs
  (cd "$work"/debs && APT_CONFIG="$work"/apt.conf apt-get download -qq \
    "prometheus=$version" "promtool=$version")
  for package in "$work"/debs/*.deb; do
    dpkg-deb -x "$package" "$work"/root
  done
  mkdir -p "$work"/bin
  cp "$work"/root/usr/bin/prometheus "$work"/root/usr/bin/promtool "$work"/bin/
}

from_image() {
  local image=prom/prometheus:v$upstream container
  docker pull --quiet "$image" >/dev/null
  container=$(docker create "$image")
  mkdir -p "$work"/bin
  docker cp "$container":/bin/prometheus "$work"/bin/prometheus
  docker cp "$container":/bin/promtool "$work"/bin/promtool
  docker rm "$container" >/dev/null
}

mirror=$(debian_mirror)
if [ -n "$mirror" ]; then
  from_debian "$mirror"
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  from_image
else
  echo "install-prometheus.sh: needs a Debian machine's apt sources or a Docker engine" >&2
  exit 1
fi
rm -rf "$destination"
mkdir -p "$destination"
cp "$work"/bin/prometheus "$work"/bin/promtool "$destination"/
"$destination"/promtool --version
