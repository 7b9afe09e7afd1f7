"""Writes the side-by-side table (markdown) of NATS JetStream, RabbitMQ and Roost.

Usage: peers_table.py NATS_LOG_DIR RABBIT_LOG_DIR ROOST_REPORT_DIR

The peers' directories are peerbench's `logs/<system>-<time>` (its `results.jsonl`); Roost's
is the output of `scripts/bench-local3.sh` (one `roost bench --json` report per row). Cells
are median (min-max) over the repetitions; the second table checks the targets against the
peers' medians of the same run.
"""
import json
import os
import statistics
import sys


def spread(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a", None
    m = statistics.median(vals)
    return f"{fmt.format(m)} ({fmt.format(min(vals))}-{fmt.format(max(vals))})", m


def peer_rows(d):
    return [json.loads(line) for line in open(os.path.join(d, "results.jsonl")) if line.strip()]


def peer(rows, mode, window, key):
    sel = [r for r in rows if r["mode"] == mode and (window is None or r["window"] == window)]
    pick = {
        "rate": lambda r: r["publish_msgs_per_s"],
        "p50": lambda r: r["publish_latency"]["p50_ms"],
        "p99": lambda r: r["publish_latency"]["p99_ms"],
        "drain": lambda r: r["consume"]["consume_msgs_per_s"],
        "cpu": lambda r: r["cpu"]["server_cpu_s"] * 1e6 / r["published_acked"] if r.get("cpu") else None,
    }[key]
    return [pick(r) for r in sel]


def roost(d, name, phase, key):
    path = os.path.join(d, f"{name}.json")
    if not os.path.exists(path):
        return []
    report = json.load(open(path))
    out = []
    for rep in report["repetitions"]:
        for p in rep["phases"]:
            if p["phase"] != phase:
                continue
            out.append({
                "rate": p["msgs_per_sec"],
                "p50": p["latency"]["p50_ms"],
                "p99": p["latency"]["p99_ms"],
                "cpu": p.get("server_cpu_us_per_msg"),
            }[key])
    return out


def main():
    nats, rabbit, rd = peer_rows(sys.argv[1]), peer_rows(sys.argv[2]), sys.argv[3]
    rows = []  # (label, fmt, nats, rabbit, roost http, roost grpc)
    rows.append(("W1 sequential p50 ms", "{:.3f}", peer(nats, "seq", None, "p50"), peer(rabbit, "seq", None, "p50"),
                 roost(rd, "seq-http", "publish", "p50"), roost(rd, "seq-grpc", "publish", "p50")))
    rows.append(("W1 sequential p99 ms", "{:.3f}", peer(nats, "seq", None, "p99"), peer(rabbit, "seq", None, "p99"),
                 roost(rd, "seq-http", "publish", "p99"), roost(rd, "seq-grpc", "publish", "p99")))
    for w in (64, 128, 256):
        rows.append((f"W1 window {w} msgs/s", "{:,.0f}", peer(nats, "win", w, "rate"), peer(rabbit, "win", w, "rate"),
                     roost(rd, f"window-{w}-http", "publish", "rate"), roost(rd, f"window-{w}-grpc", "publish", "rate")))
        rows.append((f"W1 window {w} server CPU us/msg", "{:,.0f}", peer(nats, "win", w, "cpu"), peer(rabbit, "win", w, "cpu"),
                     roost(rd, f"window-{w}-http", "publish", "cpu"), roost(rd, f"window-{w}-grpc", "publish", "cpu")))
    rows.append(("W1 window 128 msgs/s, Roost batches of 32", "{:,.0f}", peer(nats, "win", 128, "rate"),
                 peer(rabbit, "win", 128, "rate"),
                 roost(rd, "window-128-b32-http", "publish", "rate"), roost(rd, "window-128-b32-grpc", "publish", "rate")))
    rows.append(("W1 window 256 server CPU us/msg, Roost batches of 64", "{:,.0f}", peer(nats, "win", 256, "cpu"),
                 peer(rabbit, "win", 256, "cpu"),
                 roost(rd, "window-256-b64-http", "publish", "cpu"), roost(rd, "window-256-b64-grpc", "publish", "cpu")))
    rows.append(("W1 window 128 msgs/s, Roost forwarded (HTTP round-robin, gRPC to node 1)", "{:,.0f}", [], [],
                 roost(rd, "window-128-rr-http", "publish", "rate"), roost(rd, "window-128-rr-grpc", "publish", "rate")))
    rows.append(("W2 publish msgs/s (window 128)", "{:,.0f}", peer(nats, "w2", None, "rate"), peer(rabbit, "w2", None, "rate"),
                 roost(rd, "drain-http", "publish", "rate"), roost(rd, "drain-grpc", "publish", "rate")))
    rows.append(("W2 drain msgs/s", "{:,.0f}", peer(nats, "w2", None, "drain"), peer(rabbit, "w2", None, "drain"),
                 roost(rd, "drain-http", "drain", "rate"), roost(rd, "drain-grpc", "drain", "rate")))
    rows.append(("W2 drain msgs/s, Roost acks pipelined (8 in flight)", "{:,.0f}", peer(nats, "w2", None, "drain"),
                 peer(rabbit, "w2", None, "drain"),
                 roost(rd, "drain-acks8-http", "drain", "rate"), roost(rd, "drain-acks8-grpc", "drain", "rate")))
    rows.append(("W2 drain server CPU us/msg", "{:,.0f}", [], [],
                 roost(rd, "drain-http", "drain", "cpu"), roost(rd, "drain-grpc", "drain", "cpu")))
    med = {}
    print("| workload | NATS JetStream (no fsync) | RabbitMQ quorum (fsync) | Roost HTTP (fsync) | Roost gRPC (fsync) |")
    print("|---|---|---|---|---|")
    for label, fmt, *cols in rows:
        cells = []
        for i, vals in enumerate(cols):
            text, m = spread(vals, fmt)
            cells.append(text)
            med[(label, i)] = m
        print(f"| {label} | " + " | ".join(cells) + " |")
    for name in sorted(os.listdir(rd)):
        if name.startswith("open-") and name.endswith(".json"):
            r = json.load(open(os.path.join(rd, name)))
            s = r["summary"][0]
            print(f"\nOpen loop, Roost {r['api']} at {r['rate']:,} msgs/s (at most {r['window']} in flight; latency from due time): "
                  f"achieved {s['msgs_per_sec']['median']:,.0f} msgs/s, p50 {s['p50_ms']['median']:.3f} ms, "
                  f"p99 {s['p99_ms']['median']:.3f} ms (medians).")

    def ratio(a, b):
        return a / b if a is not None and b else None

    def best(*labels_cols):
        vals = [med[k] for k in labels_cols if med[k] is not None]
        return max(vals) if vals else None

    seq, win = "W1 sequential p50 ms", "W1 window 128 msgs/s"
    batched = "W1 window 128 msgs/s, Roost batches of 32"
    cpu, cpu_batched = "W1 window 256 server CPU us/msg", "W1 window 256 server CPU us/msg, Roost batches of 64"
    drains = ("W2 drain msgs/s", "W2 drain msgs/s, Roost acks pipelined (8 in flight)")
    # (target, Roost's value, bound, "le"/"ge", unit); ratios are against the peers' medians.
    targets = [
        ("W1 sequential p50 over gRPC <= 0.8 x RabbitMQ", ratio(med[(seq, 3)], med[(seq, 1)]), 0.8, "le", "x"),
        ("W1 sequential p50 over HTTP <= 0.8 x RabbitMQ", ratio(med[(seq, 2)], med[(seq, 1)]), 0.8, "le", "x"),
        ("window 128 over gRPC >= NATS JetStream", ratio(med[(win, 3)], med[(win, 0)]), 1.0, "ge", "x"),
        ("window 128 over gRPC >= 3 x RabbitMQ", ratio(med[(win, 3)], med[(win, 1)]), 3.0, "ge", "x"),
        ("window 128 over gRPC, batches of 32, >= NATS JetStream", ratio(med[(batched, 3)], med[(win, 0)]), 1.0, "ge", "x"),
        ("window 128 over HTTP >= 2 x RabbitMQ", ratio(med[(win, 2)], med[(win, 1)]), 2.0, "ge", "x"),
        ("window 128 over HTTP, batches of 32, >= 2 x RabbitMQ", ratio(med[(batched, 2)], med[(win, 1)]), 2.0, "ge", "x"),
        ("W2 drain >= 1.5 x NATS JetStream", ratio(best(*((d, c) for d in drains for c in (2, 3))), med[(drains[0], 0)]),
         1.5, "ge", "x"),
        ("server CPU per message, gRPC window 256 <= 25 us", med[(cpu, 3)], 25.0, "le", "us"),
        ("server CPU per message, gRPC window 256, batches of 64, <= 25 us", med[(cpu_batched, 3)], 25.0, "le", "us"),
    ]
    print("\n| target | Roost | met |")
    print("|---|---|---|")
    for name, value, bound, how, unit in targets:
        if value is None:
            print(f"| {name} | n/a | n/a |")
            continue
        ok = value <= bound if how == "le" else value >= bound
        print(f"| {name} | {value:.2f} {unit} | {'yes' if ok else 'no'} |")
    print("| jobs claim->complete >= 3 x before | A/B of two binaries: scripts/bench-jobs-ab.sh (BENCHMARKS.md §16) | |")

main()
