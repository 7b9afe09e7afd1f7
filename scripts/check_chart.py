"""Lints and renders the Helm chart in deploy/helm/roost with Helm itself (the Helm SDK bound
by PyPI's helm-python-sdk: Helm's own template engine and values-schema check, no cluster), and
checks that the values files meant to be refused are.

    check_chart.py CHART OUT

- `helm lint --strict` with each values set: no warning, no error.
- Renders the default values (release `roost`) and every `CHART/ci/*-values.yaml` (release
  `inbox`, namespace `agents`) into `OUT/<set>/manifests.yaml`, a ServiceMonitor apart into
  `OUT/<set>/servicemonitor.yaml` (its schema is not among the Kubernetes API's).
- Every `CHART/../tests/refused/*.yaml` must fail to render, with the message its first line
  names (`# refused: <part of the message>`).

The rendered sets are then validated by scripts/check-deploy.sh (Kubernetes schemas) and
scripts/check_deploy.py (the settings schemas cannot see).
"""

import sys
from pathlib import Path

import helm_python as helm
import yaml

# Kinds the chart renders that the Kubernetes API schemas do not cover.
CUSTOM_KINDS = {"ServiceMonitor": "servicemonitor.yaml"}


def fail(msg):
    print(f"check_chart: {msg}", file=sys.stderr)
    sys.exit(1)


def render(chart, values, release="roost", namespace="default"):
    """The chart's manifests for `values`, as parsed documents (NOTES.txt left out)."""
    with helm.Chart.load(chart) as c:
        out = c.render(values, name=release, namespace=namespace)
    docs = []
    for name, text in sorted(out.items()):
        if name.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def lint(chart, values=None):
    report = helm.lint(chart, values, strict=True)
    problems = report["errors"] + [m["error"] for m in report["messages"] if m["severity"] >= 2]
    if problems:
        fail(f"helm lint {chart}: " + "; ".join(problems))


def write_set(out, name, docs):
    """Writes one rendered set: the core manifests in one file, each custom kind in its own."""
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    files = {}
    for d in docs:
        files.setdefault(CUSTOM_KINDS.get(d["kind"], "manifests.yaml"), []).append(d)
    for file, group in files.items():
        (target / file).write_text(yaml.safe_dump_all(group, sort_keys=False))
    print(f"check_chart: rendered {name}: " + ", ".join(d["kind"] for d in docs))


def refused(chart, path):
    """Renders the values file `path`, which must be refused with the message it names."""
    text = path.read_text()
    first = text.splitlines()[0] if text else ""
    if not first.startswith("# refused: "):
        fail(f"{path}: the first line must be '# refused: <part of the message>'")
    expected = first.removeprefix("# refused: ").strip()
    try:
        render(chart, yaml.safe_load(text) or {})
    except helm.HelmError as e:
        if expected not in str(e):
            fail(f"{path}: refused, but not for {expected!r}: {e}")
        print(f"check_chart: {path.name} refused: {expected}")
        return
    fail(f"{path}: rendered, but must be refused ({expected})")


def main(chart, out):
    chart, out = Path(chart), Path(out)
    lint(chart)
    write_set(out, "default", render(chart, {}))
    for values in sorted((chart / "ci").glob("*-values.yaml")):
        given = yaml.safe_load(values.read_text())
        lint(chart, given)
        docs = render(chart, given, "inbox", "agents")
        write_set(out, values.name.removesuffix("-values.yaml"), docs)
    cases = sorted((chart.parent / "tests" / "refused").glob("*.yaml"))
    if not cases:
        fail("no refused values files")
    for path in cases:
        refused(chart, path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: check_chart.py CHART OUT")
    main(*sys.argv[1:])
