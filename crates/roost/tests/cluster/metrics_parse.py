"""Reads a node's /metrics with the Prometheus project's own Python parser and prints what it
found as JSON: each family's type, and every sample (name, labels, value). A page the parser
refuses fails the run, so the Rust test sees it.

Usage: metrics_parse.py URL
"""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    url = sys.argv[1]
    with urllib.request.urlopen(url, timeout=10) as resp:
        content_type = resp.headers.get("content-type", "")
        text = resp.read().decode("utf-8")
    families = {}
    samples = []
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        for s in family.samples:
            samples.append([s.name, s.labels, s.value])
    json.dump({"content_type": content_type, "families": families, "samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
