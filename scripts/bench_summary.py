"""Prints one line per phase of a `roost bench --json` report: median (min-max) of each figure."""
import json
import sys


def spread(s):
    return f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"


report = json.load(open(sys.argv[1]))
for s in report["summary"]:
    print(f"{s['phase']}: msgs/s {spread(s['msgs_per_sec'])}, p50 ms {spread(s['p50_ms'])}, p99 ms {spread(s['p99_ms'])}")
