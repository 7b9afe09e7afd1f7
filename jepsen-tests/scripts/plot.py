"""Plots one chaos run: latency.png (every completed operation, by outcome) and
throughput.png (completed operations per second), with the nemesis's faults shaded.

Usage: plot.py RUN_DIR   (the directory holds history.jsonl, written by the chaos runs)
"""
import collections
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(run):
    events = [json.loads(line) for line in open(os.path.join(run, "history.jsonl")) if line.strip()]
    pending, ops, faults, open_faults = {}, [], [], {}
    for e in events:
        t = e["time"] / 1e9
        if e["f"] == "nemesis":
            if e["type"] == "invoke":
                open_faults[e["fault"]] = t
            elif e["fault"] in open_faults:
                faults.append((open_faults.pop(e["fault"]), t, e["fault"]))
            continue
        if e["type"] == "invoke":
            pending[e["process"]] = (t, e["f"])
        elif e["process"] in pending:
            start, f = pending.pop(e["process"])
            ops.append((start, t, f, e["type"]))
    end = max([o[1] for o in ops] + [0])
    faults += [(s, end, name) for name, s in open_faults.items()]
    return ops, faults


def shade(ax, faults):
    for s, e, name in faults:
        ax.axvspan(s, e, color="tab:red", alpha=0.12, lw=0)
        ax.text(s, 1.0, name, transform=ax.get_xaxis_transform(), fontsize=6, va="top",
                rotation=90, color="tab:red")


def finish(fig, ax, run, what, ylabel, name, faults):
    """Labels, shades the faults and writes `name` into the run directory."""
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{os.path.basename(run)}: {what}, faults shaded")
    ax.legend(loc="upper right", fontsize=7)
    shade(ax, faults)
    fig.tight_layout()
    fig.savefig(os.path.join(run, name), dpi=120)


def main():
    run = sys.argv[1]
    ops, faults = load(run)
    colors = {"ok": "tab:blue", "info": "tab:orange", "fail": "tab:red"}
    fig, ax = plt.subplots(figsize=(10, 4))
    for outcome, color in colors.items():
        xs = [o[1] for o in ops if o[3] == outcome]
        ys = [(o[1] - o[0]) * 1000 for o in ops if o[3] == outcome]
        if xs:
            ax.scatter(xs, ys, s=2, color=color, label=f"{outcome} ({len(xs)})")
    ax.set_yscale("log")
    finish(fig, ax, run, "operation latency", "latency (ms)", "latency.png", faults)

    fig, ax = plt.subplots(figsize=(10, 3))
    for f in sorted({o[2] for o in ops}):
        per_sec = collections.Counter(int(o[1]) for o in ops if o[2] == f and o[3] == "ok")
        xs = range(0, int(max([o[1] for o in ops] + [0])) + 1)
        ax.plot(list(xs), [per_sec.get(x, 0) for x in xs], label=f)
    finish(fig, ax, run, "throughput", "ok operations / s", "throughput.png", faults)


main()
