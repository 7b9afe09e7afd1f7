"""Prints one line per phase of a `roost bench --json` report: median (min-max) of each figure."""
import json
import sys


def spread(s):
    return f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"


report = json.load(open(sys.argv[1]))
for s in report["summary"]:
    cpu = s.get("server_cpu_us_per_msg")
    cpu = f", server CPU us/msg {spread(cpu)}" if cpu else ""
    print(f"{s['phase']}: msgs/s {spread(s['msgs_per_sec'])}, p50 ms {spread(s['p50_ms'])}, p99 ms {spread(s['p99_ms'])}{cpu}")
