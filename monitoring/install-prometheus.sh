#!/usr/bin/env bash
# Installs Prometheus and promtool at one pinned version into a folder (make prometheus-tools):
# Debian 13's packages, fetched with apt from the mirror this machine already uses, through a
# throwaway apt configuration (the system's sources stay as they are), and unpacked, not
# installed. Debian 12's own prometheus (2.42) lacks the Kubernetes service discovery that
# monitoring/prometheus-kubernetes.yml uses, so promtool could not check that file. The
# binaries need only libc 2.34, which Debian 12 has.
#   monitoring/install-prometheus.sh DESTINATION VERSION
set -euo pipefail
destination=$1
version=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work"/lists/partial "$work"/cache/archives/partial "$work"/etc/sources.list.d \
  "$work"/etc/preferences.d "$work"/debs
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
  > "$work"/etc/sources.list
cat > "$work"/apt.conf <<CONF
Dir::Etc::sourcelist "$work/etc/sources.list";
Dir::Etc::sourceparts "$work/etc/sources.list.d";
Dir::Etc::preferencesparts "$work/etc/preferences.d";
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
CONF
export APT_CONFIG="$work"/apt.conf
apt-get update -qq
# apt's sandbox user cannot write into a folder of root's; the download is checked all the same.
chmod 777 "$work"/debs
(cd "$work"/debs && apt-get download -qq "prometheus=$version" "promtool=$version")
rm -rf "$destination"
for package in "$work"/debs/*.deb; do
  dpkg-deb -x "$package" "$work"/root
done
mkdir -p "$destination"
cp "$work"/root/usr/bin/prometheus "$work"/root/usr/bin/promtool "$destination"/
"$destination"/promtool --version
