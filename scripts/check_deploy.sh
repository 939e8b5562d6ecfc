#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine or cluster here):
# hadolint for the Dockerfile, the compose spec schema, and the Kubernetes
# manifests rendered by kustomize and validated strictly against the API schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
$UV run hadolint deploy/docker/Dockerfile
$UV run check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
    name=$(echo "$dir" | tr '/' '_')
    kubectl kustomize "$dir" > "$out/$name.yaml"
    $UV run kubernetes-validate --strict --quiet "$out/$name.yaml"
    echo "ok -- $dir"
done
