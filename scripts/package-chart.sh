#!/usr/bin/env bash
# Packages charts/voting-app for a release: chart and app version set to VERSION, and its
# default images pointed at where the release workflow publishes them,
# REGISTRY/REPOSITORY/<program>:VERSION (ghcr.io/OWNER and REPO), so that the published chart
# installs the published images as it is. The chart in the repository keeps the local image
# names, which `kubectl kustomize k8s/` has too.
# Usage: scripts/package-chart.sh HELM VERSION REGISTRY REPOSITORY DESTINATION-FOLDER
set -euo pipefail
cd "$(dirname "$0")/.."

helm=$1 version=$2 registry=$3 repository=$4 destination=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# -L: the files linked from k8s/components/ go in as files.
cp -RL charts/voting-app "$work/voting-app"
values="$work/voting-app/values.yaml"
# Only the two lines of the top-level `image:` block; the backing services' blocks keep theirs.
sed -i -e '/^image:$/,/^[a-z]/{' \
  -e "s|^  registry: \"\"\$|  registry: $registry|" \
  -e "s|^  repository: voting-app\$|  repository: $repository|" \
  -e '}' "$values"
if ! grep -qx "  registry: $registry" "$values" || ! grep -qx "  repository: $repository" "$values"; then
  echo "values.yaml: the image block no longer reads as this script expects" >&2
  exit 1
fi
"$helm" lint --strict --quiet "$work/voting-app"
"$helm" package "$work/voting-app" --version "$version" --app-version "$version" \
  --destination "$destination"
