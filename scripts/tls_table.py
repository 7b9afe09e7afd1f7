"""One table from scripts/bench-tls.sh's reports: for each workload, the median over rounds of
each round's median, plaintext peers beside peers over mutual TLS, and their ratio."""
import json
import pathlib
import statistics
import sys

out = pathlib.Path(sys.argv[1])
rows = [
    ("W1 sequential over HTTP, p50 ms", "seq-http", "p50_ms"),
    ("W1 sequential over gRPC, p50 ms", "seq-grpc", "p50_ms"),
    ("W1 window 128 over HTTP, msgs/s", "window-128-http", "msgs_per_sec"),
    ("W1 window 128 over gRPC, msgs/s", "window-128-grpc", "msgs_per_sec"),
    ("W1 window 128 over gRPC, server CPU us/msg", "window-128-grpc", "server_cpu_us_per_msg"),
]


def medians(mode, report, figure):
    values = []
    for d in sorted(out.glob(f"round*-{mode}")):
        data = json.loads((d / f"{report}.json").read_text())
        for s in data["summary"]:
            if s.get(figure):
                values.append(s[figure]["median"])
    return values


print("| workload | plaintext peers | peers over mutual TLS | TLS / plain |")
print("|---|---|---|---|")
for label, report, figure in rows:
    plain, tls = medians("plain", report, figure), medians("tls", report, figure)
    if not plain or not tls:
        continue
    p, t = statistics.median(plain), statistics.median(tls)
    rounds = lambda v: " / ".join(f"{x:,.3f}" if x < 100 else f"{x:,.0f}" for x in v)
    print(f"| {label} | {rounds(plain)} | {rounds(tls)} | {t / p:.3f} |")
