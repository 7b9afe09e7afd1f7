"""Checks the settings of deploy/ that schema validation cannot see.

- The headless Service behind the StatefulSet publishes not-ready addresses: peers must resolve
  each other before any pod is ready, because /readyz waits for leaders.
- A PodDisruptionBudget over the StatefulSet's pods allows at most one voluntary disruption.
"""

import sys

import yaml


def fail(msg):
    print(f"check_deploy: {msg}", file=sys.stderr)
    sys.exit(1)


def main(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    sets = [d for d in docs if d["kind"] == "StatefulSet"]
    if len(sets) != 1:
        fail(f"{path}: expected one StatefulSet, found {len(sets)}")
    sts = sets[0]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    headless = services.get(sts["spec"]["serviceName"])
    if headless is None:
        fail(f"{path}: the StatefulSet's serviceName has no Service")
    if headless["spec"].get("clusterIP") != "None":
        fail(f"{path}: the StatefulSet's Service is not headless")
    if headless["spec"].get("publishNotReadyAddresses") is not True:
        fail(f"{path}: the headless Service needs publishNotReadyAddresses: true")
    pdbs = [
        d
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
        and d["spec"]["selector"].get("matchLabels", {}).items() <= labels.items()
    ]
    if len(pdbs) != 1:
        fail(f"{path}: expected one PodDisruptionBudget over the StatefulSet's pods")
    if pdbs[0]["spec"].get("maxUnavailable") != 1:
        fail(f"{path}: the PodDisruptionBudget must have maxUnavailable: 1")
    print(f"check_deploy: {path}: headless Service and PodDisruptionBudget ok")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        main(p)
