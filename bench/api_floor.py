"""(3b) The API against Odoo's own floor, side by side on one server.

Odoo's floor is the cheapest request a database serves: JSON-RPC
``/web/webclient/version_info`` (registry check, a cursor, JSON in and out).
Against it, on the same ``odoo-bin`` (prefork workers) and in the same run,
interleaved: member lookup by card (``GET /members/lookup``, a Bearer key), an
accrual on distinct cards and accruals all on one card (``POST /accruals``).
Ratios are throughputs relative to the floor's. On one card, every request
must get its answer without a retry (no serialization failure in the server's
log, none retried by the client) and every accrual answered 201 must be in the
ledger exactly once, with the card's balance equal to its ledger.
"""

import http.client
import json
import time
import uuid

from .api_bench import BASE, Server, _cards, api_key, overdrafts
from .stats import median, percentile

FLOOR_PATH = "/web/webclient/version_info"
FLOOR_BODY = {"jsonrpc": "2.0", "method": "call", "params": {}}


class _Client:
    """One keep-alive connection; counts what the server refused transiently."""

    def __init__(self, server, key):
        self.server = server
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        }
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)

    def call(self, method, path, body, stats):
        for _attempt in range(8):
            t0 = time.perf_counter()
            try:
                status, data = self.server.request(
                    method, path, body, self.headers, conn=self.conn
                )
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.server.port, timeout=120
                )
                stats["retries"] += 1
                continue
            stats["latencies"].append((time.perf_counter() - t0) * 1000.0)
            if status in (409, 429, 502, 503, 504) and b"idempotency_conflict" not in (
                data or b""
            ):
                stats["retries"] += 1
                continue
            stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
            return status, data
        stats["gave_up"] += 1
        return None, b""


def _parallel(server, key, clients, per_client, make_request):
    import threading

    stats = [
        {"latencies": [], "statuses": {}, "retries": 0, "gave_up": 0, "answers": []}
        for _i in range(clients)
    ]
    barrier = threading.Barrier(clients)

    def run(i):
        client = _Client(server, key)
        barrier.wait()
        for j in range(per_client):
            method, path, body = make_request(i, j)
            status, data = client.call(method, path, body, stats[i])
            stats[i]["answers"].append((status, body, data))
        client.conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    merged = {
        "latencies": [],
        "statuses": {},
        "retries": 0,
        "gave_up": 0,
        "answers": [],
    }
    for s in stats:
        merged["latencies"] += s["latencies"]
        merged["retries"] += s["retries"]
        merged["gave_up"] += s["gave_up"]
        merged["answers"] += s["answers"]
        for k, v in s["statuses"].items():
            merged["statuses"][k] = merged["statuses"].get(k, 0) + v
    return merged, seconds


def _ledger_of_run(registry, env_factory, tag):
    """Entries posted by the run's idempotency keys: {api key: (count, points)}."""
    with env_factory(registry) as env:
        env.cr.execute(
            "SELECT r.idempotency_key, COUNT(l.id), COALESCE(SUM(l.points), 0)"
            "  FROM loyalty_api_request r"
            "  LEFT JOIN loyalty_ledger l"
            "    ON l.idempotency_key = 'api/' || r.user_id || '/' || r.idempotency_key"
            " WHERE r.idempotency_key LIKE %s GROUP BY r.idempotency_key",
            [f"{tag}-%"],
        )
        return {k: (n, float(p)) for k, n, p in env.cr.fetchall()}


def run(registry, env_factory, conf, db, clients=8, requests_per_case=400, runs=3):
    key = api_key(registry, env_factory)
    cards = _cards(registry, env_factory, clients * 20 + 1)
    one, distinct = cards[0], cards[1:]
    per_client = max(requests_per_case // clients, 1)

    def floor(_i, _j):
        return "POST", FLOOR_PATH, FLOOR_BODY

    def lookup(i, j):
        code = distinct[(i * per_client + j) % len(distinct)][1]
        return "GET", f"{BASE}/members/lookup?card={code}", None

    def accrual(tag, single):
        def make(i, j):
            code = (
                one[1] if single else distinct[(i * per_client + j) % len(distinct)][1]
            )
            body = {
                "card": code,
                "amount": 100.0 + (i * per_client + j) % 100,
                "idempotency_key": f"{tag}-{uuid.uuid4()}",
            }
            return "POST", f"{BASE}/accruals", body

        return make

    cases = ["floor", "lookup", "accrual, distinct cards", "accrual, one card"]
    measured = {case: [] for case in cases}
    one_card = {"answers_201": 0, "ledger_entries": 0, "paid_twice": 0, "lost": 0}
    with Server(conf, db) as server:
        for r in range(runs):
            for case in cases:
                tag = f"floor{r}-{uuid.uuid4().hex[:8]}"
                make = {
                    "floor": floor,
                    "lookup": lookup,
                    "accrual, distinct cards": accrual(tag, False),
                    "accrual, one card": accrual(tag, True),
                }[case]
                stats, seconds = _parallel(server, key, clients, per_client, make)
                # every request of these cases must succeed
                bad = [
                    (s, (d or b"")[:200].decode(errors="replace"))
                    for s, _b, d in stats["answers"]
                    if s not in (200, 201)
                ]
                measured[case].append(
                    {
                        "requests_per_second": len(stats["latencies"]) / seconds,
                        "p50_ms": percentile(stats["latencies"], 50),
                        "p95_ms": percentile(stats["latencies"], 95),
                        "requests": len(stats["latencies"]),
                        "retries": stats["retries"],
                        "gave_up": stats["gave_up"],
                        "failed": len(bad),
                        "failures": bad[:3],
                        "statuses": {str(k): v for k, v in stats["statuses"].items()},
                    }
                )
                if case == "accrual, one card":
                    posted = _ledger_of_run(registry, env_factory, tag)
                    for status, body, data in stats["answers"]:
                        if status != 201:
                            continue
                        one_card["answers_201"] += 1
                        n, points = posted.get(body["idempotency_key"], (0, 0.0))
                        answered = json.loads(data)["transaction"]["points"]
                        one_card["ledger_entries"] += n
                        one_card["paid_twice"] += n > 1
                        one_card["lost"] += n == 0 or abs(points - answered) > 0.005
    result = {}
    for case, runs_ in measured.items():
        rps = [m["requests_per_second"] for m in runs_]
        result[case] = {
            "requests_per_second": round(median(rps), 1),
            "requests_per_second_runs": [round(x, 1) for x in rps],
            "p50_ms": round(median([m["p50_ms"] for m in runs_]), 1),
            "p95_ms": round(median([m["p95_ms"] for m in runs_]), 1),
            "requests": sum(m["requests"] for m in runs_),
            "retries": sum(m["retries"] for m in runs_),
            "gave_up": sum(m["gave_up"] for m in runs_),
            "failed": sum(m["failed"] for m in runs_),
            "failures": [f for m in runs_ for f in m["failures"]][:3],
            "statuses": {
                status: sum(m["statuses"].get(status, 0) for m in runs_)
                for status in sorted({s for m in runs_ for s in m["statuses"]})
            },
        }
    floor_rps = result["floor"]["requests_per_second"]
    result["ratios"] = {
        "lookup / floor": round(result["lookup"]["requests_per_second"] / floor_rps, 2),
        "accrual / floor": round(
            result["accrual, distinct cards"]["requests_per_second"] / floor_rps, 2
        ),
        "accrual on one card / floor": round(
            result["accrual, one card"]["requests_per_second"] / floor_rps, 2
        ),
    }
    single = result["accrual, one card"]
    result["one card"] = dict(
        one_card,
        requests=single["requests"],
        retries_per_1000=round(
            1000 * single["retries"] / max(single["requests"], 1), 2
        ),
        serialization_failures_in_server_log=server.log_counts[
            "serialization_failures_retried_by_odoo"
        ],
        overdrafts=overdrafts(registry, env_factory, [one[0]]),
    )
    result["server_log"] = server.log_counts
    return result
