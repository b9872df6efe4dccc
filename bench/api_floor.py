"""(3b) The API against Odoo's own floor, side by side on one server.

Odoo's floor is the cheapest request a database serves: JSON-RPC
``/web/webclient/version_info`` (registry check, a cursor, JSON in and out).
Against it, on the same ``odoo-bin`` (prefork workers) and in the same run,
interleaved: member lookup by card (``GET /members/lookup``, a Bearer key), an
accrual on distinct cards and accruals all on one card (``POST /accruals``).
After a warm-up of every case (not counted), each run takes the four cases in
turn, a block of requests each, several rounds: a shared machine's load moves
within seconds, and so each case meets it alike. Ratios are throughputs
relative to the floor's, run by run; their median is reported. On one card,
every request must get its answer without a retry (no serialization failure in
the server's log, none retried by the client) and every accrual answered 201
must be in the ledger exactly once, with the card's balance equal to its ledger.
"""

import json
import uuid

from .api_bench import BASE, _cards, api_key, overdrafts
from .api_client import each_request, parallel, rates
from .http_server import OdooServer
from .stats import median

FLOOR_PATH = "/web/webclient/version_info"
BLOCKS = 4  # rounds of the four cases per run
FLOOR_BODY = {"jsonrpc": "2.0", "method": "call", "params": {}}


def _parallel(server, key, clients, per_client, make_request):
    """``per_client`` requests ``make_request(i, j)`` in each of ``clients``
    threads (no wait before a retry); returns the stats and the seconds."""
    return parallel([server], key, clients, each_request(per_client, make_request))


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


def _summary(stats):
    """One case's figures in one run; every request must have succeeded."""
    bad = [
        (s, (d or b"")[:200].decode(errors="replace"))
        for s, _b, d in stats["answers"]
        if s not in (200, 201)
    ]
    return dict(
        rates(stats, stats["seconds"]),
        retries=stats["retries"],
        gave_up=stats["gave_up"],
        failed=len(bad),
        failures=bad[:3],
        statuses={str(k): v for k, v in stats["statuses"].items()},
    )


def _check_one_card(answers, posted, one_card):
    """Every accrual answered 201 is in the ledger once, with its points."""
    for status, body, data in answers:
        if status != 201:
            continue
        one_card["answers_201"] += 1
        n, points = posted.get(body["idempotency_key"], (0, 0.0))
        answered = json.loads(data)["transaction"]["points"]
        one_card["ledger_entries"] += n
        one_card["paid_twice"] += n > 1
        one_card["lost"] += n == 0 or abs(points - answered) > 0.005


def _add(total, stats, seconds):
    total["seconds"] += seconds
    for name in ("latencies", "answers"):
        total[name] += stats[name]
    for name in ("retries", "gave_up"):
        total[name] += stats[name]
    for k, v in stats["statuses"].items():
        total["statuses"][k] = total["statuses"].get(k, 0) + v


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
    # each run is BLOCKS rounds of the four cases, a block of each in turn, so that
    # every case meets the machine's other load alike (a shared machine's load
    # moves within seconds); the ratios are taken run by run
    blocks = max(min(BLOCKS, per_client), 1)
    per_block = max(per_client // blocks, 1)

    def measure(case, tag, count):
        make = {
            "floor": floor,
            "lookup": lookup,
            "accrual, distinct cards": accrual(tag, False),
            "accrual, one card": accrual(tag, True),
        }[case]
        return _parallel(server, key, clients, count, make)

    with OdooServer(conf, db) as server:
        # every worker's first requests (registry, caches, connections) not counted
        for case in cases:
            measure(case, f"warm-{uuid.uuid4().hex[:8]}", per_block)
        for r in range(runs):
            totals = {
                case: {
                    "seconds": 0.0,
                    "latencies": [],
                    "answers": [],
                    "retries": 0,
                    "gave_up": 0,
                    "statuses": {},
                }
                for case in cases
            }
            tag = f"floor{r}-{uuid.uuid4().hex[:8]}"
            for _block in range(blocks):
                for case in cases:
                    _add(totals[case], *measure(case, tag, per_block))
            posted = _ledger_of_run(registry, env_factory, tag)
            for case in cases:
                measured[case].append(_summary(totals[case]))
            _check_one_card(totals["accrual, one card"]["answers"], posted, one_card)
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

    def ratio(case):
        """The median of the run-by-run ratios, and each run's."""
        each = [
            m["requests_per_second"] / f["requests_per_second"]
            for m, f in zip(measured[case], measured["floor"], strict=True)
        ]
        return round(median(each), 2), [round(x, 2) for x in each]

    result["ratios"], result["ratios_runs"] = {}, {}
    for name, case in (
        ("lookup / floor", "lookup"),
        ("accrual / floor", "accrual, distinct cards"),
        ("accrual on one card / floor", "accrual, one card"),
    ):
        result["ratios"][name], result["ratios_runs"][name] = ratio(case)
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
