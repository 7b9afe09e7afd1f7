#!/usr/bin/env bash
# Validates every manifest in deploy/ with real schema validators from PyPI (installed into a
# venv beside the build output): the Kubernetes manifests strictly against the Kubernetes API
# schemas, compose.yaml against the Compose specification; then the settings the schemas cannot
# see (scripts/check_deploy.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${ROOST_VENV:-$HOME/.cache/roost-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$root/scripts/requirements-deploy.txt"
"$venv/bin/kubernetes-validate" --strict --quiet "$root"/deploy/k8s/*.yaml
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$root/deploy/compose.yaml"
"$venv/bin/python" "$root/scripts/check_deploy.py" "$root"/deploy/k8s/*.yaml
