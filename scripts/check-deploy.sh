#!/usr/bin/env bash
# Validates every manifest in deploy/ with real schema validators from PyPI (installed into a
# venv beside the build output): the Kubernetes manifests strictly against the Kubernetes API
# schemas, compose.yaml against the Compose specification; then the settings the schemas cannot
# see (scripts/check_deploy.py). The Helm chart is linted and rendered by Helm's own engine
# (scripts/check_chart.py), with its default values and each of its ci/ values files, and the
# rendered manifests go through the same checks; the values files meant to be refused must be.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${ROOST_VENV:-$HOME/.cache/roost-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$root/scripts/requirements-deploy.txt"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
"$venv/bin/python" "$root/scripts/check_chart.py" "$root/deploy/helm/roost" "$rendered"
"$venv/bin/kubernetes-validate" --strict --quiet "$root"/deploy/k8s/*.yaml "$rendered"/*/manifests.yaml
# The ServiceMonitor's schema is not the Kubernetes API's: a pinned one of its fields.
monitors=("$rendered"/*/servicemonitor.yaml)
[ -f "${monitors[0]}" ] || { echo "check-deploy: no values set renders a ServiceMonitor" >&2; exit 1; }
"$venv/bin/check-jsonschema" --schemafile "$root/scripts/schemas/servicemonitor-v1.json" "${monitors[@]}"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$root/deploy/compose.yaml"
"$venv/bin/python" "$root/scripts/check_deploy.py" "$root"/deploy/k8s/*.yaml --chart "$rendered"/*/
# The checks refuse what they must: each broken deployment in the test is refused.
"$venv/bin/python" "$root/scripts/test_check_deploy.py"
