"""Before/after table from two harness result files (`BENCH_RESULTS=... bash scripts/bench.sh`):

    python3 scripts/bench/compare.py before.jsonl after.jsonl

One row per store, workload and connections found in both, with req/s, the ratio and the p99s;
pgbench's rows (the metered SQL's ceiling, which Tollgate has no part in) show how much the
machine itself moved between the two runs."""
import json
import sys


def load(path):
    rows = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            rows[(r["store"], r["workload"], r["concurrency"])] = r
    return rows


def rate(r):
    return r["tps"] if r["workload"] == "pgbench" else r["requests"] / (r["duration_us"] / 1e6)


def p99(r):
    return f"{r['p99_us'] / 1000:.1f}" if r.get("p99_us") is not None else ""


before, after = load(sys.argv[1]), load(sys.argv[2])
def rss(r):
    return f"{r['peak_rss_kb'] / 1024:.0f}" if r.get("peak_rss_kb") else ""


print("| store | workload | conns | before req/s | after req/s | after/before | before p99 ms | after p99 ms | before peak RSS MB | after peak RSS MB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
order = {"pgbench": 0}
for key in sorted(before.keys() & after.keys(), key=lambda k: (k[0] != "postgres" or k[1] != "pgbench", k[0], order.get(k[1], 1), k[1], k[2])):
    b, a = before[key], after[key]
    store, workload, c = key
    name = "(pgbench, the metered SQL)" if workload == "pgbench" else store
    shown = "—" if workload == "pgbench" else workload
    print(f"| {name} | {shown} | {c} | {rate(b):,.0f} | {rate(a):,.0f} | {rate(a) / rate(b):.2f} | {p99(b)} | {p99(a)} | {rss(b)} | {rss(a)} |")
