#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/seed-*) from Stripe's example
objects (../shared/stripe-fixtures, in both the current and the older API shape) and the
examples the unit tests use. Run again after changing it; the seeds are committed."""
import copy
import hashlib
import hmac
import json
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(ROOT, "..", "..", "shared", "stripe-fixtures")
if not os.path.isdir(FIXTURES):
    FIXTURES = "/work/shared/stripe-fixtures"
SECRET = b"whsec_fuzz"
NOW = 1796299200  # 2026-12-03 12:00 UTC, the targets' `now`


def write(target, name, data):
    folder = os.path.join(ROOT, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def older(obj):
    """The older API shape: periods on the subscription, the subscription on the invoice."""
    o = copy.deepcopy(obj)
    if o.get("object") == "subscription":
        item = (o.get("items", {}).get("data") or [{}])[0]
        for k in ("current_period_start", "current_period_end"):
            if k in item:
                o[k] = item[k]
    if o.get("object") == "invoice":
        details = (o.get("parent") or {}).get("subscription_details") or {}
        o["subscription"] = details.get("subscription", "sub_older")
        o.pop("parent", None)
    return o


events = []
for kind, obj in [
    ("checkout.session.completed", fixture("checkout.session")),
    ("customer.subscription.created", fixture("subscription")),
    ("customer.subscription.updated", fixture("subscription")),
    ("customer.subscription.deleted", fixture("subscription")),
    ("invoice.paid", fixture("invoice")),
    ("invoice.payment_failed", fixture("invoice")),
]:
    for shape, o in (("current", obj), ("older", older(obj))):
        envelope = fixture("event")
        envelope.update({"id": f"evt_{kind}_{shape}", "type": kind, "created": NOW - 60, "data": {"object": o}})
        events.append((f"{kind}-{shape}", json.dumps(envelope, separators=(",", ":"))))
for name, body in events:
    write("stripe_event", name, body)
    t = NOW - 30
    mac = hmac.new(SECRET, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    write("stripe_signature", name, f"t={t},v1={mac}\n{body}")
write("stripe_signature", "two-v1", "t=1796299200,v1=00,v1=zz\n{}")
write("stripe_signature", "no-t", "v1=abcd\n{}")
write("stripe_event", "other-type", '{"id":"evt_1","type":"charge.refunded","created":1,"data":{"object":{}}}')

for i, seed in enumerate([
    "POST /api/v1/sessions\n/api/v1/sessions\n/api/v1/sessions/",
    "POST /api/v1/sessions/*/chat=3, get /v1/**=2\n/api/v1/sessions/42/chat\n/v1/a/b\n/v1",
    "put /a/*/b/**=10,DELETE /x\n/a/1/b/c/d\n/x\n//x",
    "/api/**,/v1/*\n/api/x\n/v1/a/b",
]):
    write("route_table", str(i), seed)

for i, seed in enumerate([
    "/v1/agents/7/run", "/v1//agents/7/run", "/v1/%61gents/7/r%75n", "/v1/agents/", "/", "//",
    "/a%25b/c%2Bd", "/caf%C3%A9", "/a;b/c", "/%2e%2e/x", "/a%2Fb", "/a\\b", "/x?y", "/%F0%9F%A6%80/%7B%7D",
]):
    write("routed_path", str(i), seed)

for i, seed in enumerate([
    "100", "unlimited", "0", "4294967295", "/api/**,/v1/*", "10.0.0.0/8,127.0.0.1,::1",
    "forwarded", "original", "https://app.example.com,http://localhost:3000",
]):
    write("settings_values", str(i), seed)

for i, seed in enumerate([
    '{"fullname":"Ada Lovelace","email":"ada@example.com","password":"correct horse"}',
    '{"email":"ada@example.com","password":"correct horse"}',
    '{"refresh_token":"abc"}',
    '{"plan":"pro","success_url":"https://app.example.com/ok","cancel_url":"https://app.example.com/no"}',
    '{"return_url":"https://app.example.com/billing"}',
    '{"user_id":"0190c1d2-0000-7000-8000-000000000001","runs":5.0,"reason":"nightly"}',
    '{"consumption_id":"0190c1d2-0000-7000-8000-000000000002"}',
    '{"user_id":"0190c1d2-0000-7000-8000-000000000001","runs":3,"ttl_seconds":600}',
    '{"runs":2}',
    '{"plan":"enterprise","runs_limit":"unlimited"}',
    '{"runs":5,"reason":"outage on the 3rd"}',
    '{}', 'null', '[]',
]):
    write("request_dtos", str(i), seed)
print("seeds written", file=sys.stderr)
