"""Prints the markdown table of a campaign: one row per chaos run kind (workload x nemesis x
nodes), with how many runs, operations and anomalies it had.

Usage: table.py CAMPAIGN_DIR   (holds run-N/<kind>-<nodes>/results.json)
"""
import collections
import glob
import json
import os
import sys

NEMESES = {
    "kill_and_restart": "SIGKILL + restart, each node in turn and a majority at once",
    "leader_pauses": "SIGSTOP/SIGCONT of the shard leader",
    "partitions_and_kills": "nftables: shard leader cut off; kills between",
    "five_nodes_schedule": "halves, leader cut off, ring, bridge, pause, kill, clock skew",
    "clock_skew": "wall clocks skewed and jumped (libfaketime); leader kills",
    "jobs_combined": "at once: pause + kill + isolate (rotating roles), then heal",
    "work_combined": "at once: pause + kill + isolate (rotating roles), then heal",
    "queue_combined": "at once: pause + kill + isolate (rotating roles), then heal",
}
QUEUE = "queue: 3 idempotent publishers + 1 acking consumer (nack → DLQ → replay)"
WORKLOADS = {
    "jobs_combined": "jobs: 2 enqueuers (cancel every 4th) + 3 workers (claim, heartbeat, complete / fail)",
    "work_combined": "work queues: 1 adder + 3 agents (dequeue or steal, complete)",
}

rows = collections.defaultdict(lambda: {"runs": 0, "ok": 0, "info": 0, "anomalies": 0, "invalid": 0})
for path in sorted(glob.glob(os.path.join(sys.argv[1], "run-*", "*", "results.json"))):
    kind, nodes = os.path.basename(os.path.dirname(path)).rsplit("-", 1)
    r = json.load(open(path))
    row = rows[(kind, nodes)]
    row["runs"] += 1
    row["ok"] += r["ops"].get("ok", 0)
    row["info"] += r["ops"].get("info", 0)
    row["anomalies"] += len(r["anomalies"])
    row["invalid"] += 0 if r["valid"] else 1
print("| workload | nemesis | nodes | runs | ops ok / indeterminate | anomalies |")
print("|---|---|---|---|---|---|")
for (kind, nodes), row in sorted(rows.items()):
    print(f"| {WORKLOADS.get(kind, QUEUE)} | {NEMESES.get(kind, kind)} | {nodes} | "
          f"{row['runs']} | {row['ok']:,} / {row['info']:,} | {row['anomalies']} |")
