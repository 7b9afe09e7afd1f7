#!/usr/bin/env python3
"""The table of an A/B benchmark script: for each `LABEL=GLOB` (JSON reports of `roost bench`
under DIR), the median (min-max) over every repetition of every report of PHASE's rate,
server CPU per message and latency percentiles.

    ab_summary.py DIR PHASE 'round-robin=round-robin-r*.json' 'leader-aware=leader-aware-r*.json'
"""
import glob
import json
import statistics
import sys


def spread(xs, digits=1):
    return f"{statistics.median(xs):,.{digits}f} ({min(xs):,.{digits}f}-{max(xs):,.{digits}f})"


def main(out, phase, modes):
    print("| mode | per second | server CPU us/msg | p50 ms | p99 ms |\n|---|---|---|---|---|")
    for mode in modes:
        label, pattern = mode.split("=", 1)
        rate, cpu, p50, p99 = [], [], [], []
        for f in sorted(glob.glob(f"{out}/{pattern}")):
            with open(f) as fh:
                report = json.load(fh)
            for rep in report["repetitions"]:
                for p in rep["phases"]:
                    if p["phase"] == phase:
                        rate.append(p["msgs_per_sec"])
                        cpu.append(p["server_cpu_us_per_msg"])
                        p50.append(p["latency"]["p50_ms"])
                        p99.append(p["latency"]["p99_ms"])
        if not rate:
            sys.exit(f"no {phase} phase in {out}/{pattern}")
        print(f"| {label} | {spread(rate)} ({len(rate)} runs) | {spread(cpu)} | {spread(p50, 3)} | {spread(p99, 3)} |")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
