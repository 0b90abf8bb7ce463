"""Correctness under load: a closed-loop burst of metered requests (every status counted), then
the deltas in the store must match the 201s exactly: runs counted = usage records = sessions."""
import concurrent.futures
import json
import sqlite3
import subprocess
import sys
import urllib.request

store, url, port, tokens_path, total, workers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
QUERY = "SELECT (SELECT COALESCE(SUM(runs_used),0) FROM subscriptions), (SELECT COUNT(*) FROM usage_records), (SELECT COUNT(*) FROM sessions)"


def counts():
    if store == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return tuple(conn.execute(QUERY).fetchone())
        finally:
            conn.close()
    out = subprocess.run(["psql", url, "-Atc", QUERY], capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in out.strip().split("|"))


tokens = [line.strip() for line in open(tokens_path) if line.strip()]


def post(i):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/sessions", data=b'{"title":"check"}', method="POST",
        headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


before = counts()
with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    statuses = list(pool.map(post, range(total)))
after = counts()
created = statuses.count(201)
deltas = [a - b for a, b in zip(after, before)]
print(json.dumps(dict(store=store, requests=total, concurrency=workers, responses_201=created,
                      other_statuses=sorted({s for s in statuses if s != 201}),
                      runs_counted=deltas[0], usage_records=deltas[1], sessions=deltas[2],
                      consistent=created == deltas[0] == deltas[1] == deltas[2])))
