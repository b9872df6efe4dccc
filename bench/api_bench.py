"""(3) Accrual and redemption through the HTTP API, and the API soak run.

Written against the contract (``POST /api/loyalty/v1/accruals`` and
``/redemptions``, ``Authorization: Bearer <API key>`` of a user in
``loyalty_crm.group_loyalty_api``). A real ``odoo-bin`` serves the database
with prefork workers on a free local port, so concurrency is real. Clients are
threads, each with its own keep-alive connection; a request refused for a
transient reason (503, 409 other than an idempotency conflict, a dropped
connection) is retried with the same idempotency key and counted as a retry.

After each case every card involved must hold SUM(ledger) = balance >= 0
(an "overdraft" otherwise); after the soak run, every card of the base.
"""

import datetime
import random
import uuid

from .api_client import parallel, rates
from .http_server import NotAvailable, OdooServer
from .stats import median

API_GROUP = "loyalty_crm.group_loyalty_api"
BASE = "/api/loyalty/v1"


def api_key(registry, env_factory):
    """A user in the API group and an API key of it (raises NotAvailable)."""
    with env_factory(registry, commit=True) as env:
        group = env.ref(API_GROUP, raise_if_not_found=False)
        if not group:
            raise NotAvailable(f"group {API_GROUP} does not exist (API not installed)")
        user = env["res.users"].search([("login", "=", "bench_api")], limit=1)
        if not user:
            user = env["res.users"].create(
                {
                    "name": "Bench API client",
                    "login": "bench_api",
                    "groups_id": [
                        (4, env.ref("base.group_user").id),
                        (4, group.id),
                    ],
                }
            )
        expiry = datetime.datetime.now() + datetime.timedelta(days=1)
        return (
            env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(None, "bench", expiry)
        )


# the API bench's clients wait a little before a retry and count a refusal
# under its error code
CLIENT_OPTIONS = {"backoff": 0.05, "label_codes": True}


def _parallel(server, key, clients, work):
    """``work(client, index, stats)`` in ``clients`` threads; returns stats and s."""
    return parallel([server], key, clients, work, **CLIENT_OPTIONS)


def overdrafts(registry, env_factory, card_ids=None):
    """Cards whose balance differs from their ledger or is negative."""
    with env_factory(registry) as env:
        mismatches = env["loyalty.ledger"]._loyalty_find_mismatches()
        bad = {card_id for card_id, _p, _t in mismatches}
        env.cr.execute("SELECT id FROM loyalty_card WHERE is_bonus_card AND points < 0")
        bad |= {row[0] for row in env.cr.fetchall()}
    if card_ids is not None:
        bad &= set(card_ids)
    return len(bad)


def _cards(registry, env_factory, count):
    with env_factory(registry) as env:
        env.cr.execute(
            "SELECT c.id, c.code, c.points FROM loyalty_card c"
            "  JOIN res_partner p ON p.id = c.partner_id"
            " WHERE c.is_bonus_card AND c.loyalty_state = 'active'"
            "   AND p.loyalty_referral_code LIKE 'BM%%'"
            " ORDER BY c.id DESC LIMIT %s",
            [count],
        )
        return env.cr.fetchall()


def _top_up(registry, env_factory, card_id, balance):
    """Bring the card's balance to ``balance`` available points (through the
    ledger: an adjustment entry), so that a run knows how many redemptions the
    card can pay."""
    with env_factory(registry, commit=True) as env:
        card = env["loyalty.card"].browse(card_id)
        delta = round(balance - card.points, 2)
        if delta:
            env["loyalty.ledger"]._post(
                card,
                delta,
                "adjustment",
                state="available" if delta > 0 else "posted",
                reason="bench: balance for the one-card redemption case",
            )


def _summary(stats, seconds, bad):
    figures = rates(stats, seconds)
    rps = figures["requests_per_second"]
    return {
        "requests": figures["requests"],
        "seconds": round(seconds, 2),
        "requests_per_second": round(rps, 1) if rps is not None else None,
        "p50_ms": round(figures["p50_ms"], 1),
        "p95_ms": round(figures["p95_ms"], 1),
        "statuses": {str(k): v for k, v in sorted(stats["statuses"].items())},
        "retries": stats["retries"],
        "gave_up": stats["gave_up"],
        "server_errors": stats["errors"][:3],
        "overdrafts": bad,
    }


def _accrual(code, run):
    return {
        "card": code,
        "amount": round(random.uniform(50, 2000), 2),
        "idempotency_key": f"bench-{run}-{uuid.uuid4()}",
        "reference": "bench",
    }


def _redemption(code, run, points=5.0):
    return {
        "card": code,
        "points": points,
        "order_amount": 100.0,
        "idempotency_key": f"bench-{run}-{uuid.uuid4()}",
    }


def run(registry, env_factory, conf, db, clients=8, requests_per_case=400, runs=3):
    try:
        key = api_key(registry, env_factory)
    except NotAvailable as error:
        return {"status": "not available", "reason": str(error)}
    cards = _cards(registry, env_factory, clients * 20 + 1)
    one = cards[0]
    distinct = cards[1:]
    per_client = max(requests_per_case // clients, 1)
    result = {}
    with OdooServer(conf, db) as server:
        status, _body = server.request("GET", BASE + "/openapi.json")
        if status == 404:
            return {"status": "not available", "reason": f"{BASE} is not served"}
        cases = {
            "accrual, distinct cards": ("/accruals", False),
            "accrual, one card": ("/accruals", True),
            "redemption, distinct cards": ("/redemptions", False),
            "redemption, one card": ("/redemptions", True),
        }
        for name, (path, single) in cases.items():
            summaries = []
            for r in range(runs):
                tag = f"{name[:3]}{r}"
                payable = None
                if single and path == "/redemptions":
                    # the card can pay three requests in four (5 points each):
                    # exactly that many must succeed, the others be refused
                    payable = per_client * clients * 3 // 4
                    _top_up(registry, env_factory, one[0], 5.0 * payable)

                def work(client, i, stats, path=path, single=single, tag=tag):
                    mine = [one] if single else distinct[i::clients]
                    for j in range(per_client):
                        code = mine[j % len(mine)][1]
                        body = (
                            _accrual(code, tag)
                            if path == "/accruals"
                            else _redemption(code, tag)
                        )
                        client.call("POST", BASE + path, body, stats)

                stats, seconds = _parallel(server, key, clients, work)
                ids = [one[0]] if single else [c[0] for c in distinct]
                summary = _summary(
                    stats, seconds, overdrafts(registry, env_factory, ids)
                )
                if payable is not None:
                    summary["payable"] = payable
                    summary["paid"] = stats["statuses"].get("201", 0)
                    if summary["paid"] != payable:
                        summary["note"] = (
                            f"{summary['paid']} redemptions paid by a card that "
                            f"could pay exactly {payable}"
                        )
                summaries.append(summary)
            best = sorted(summaries, key=lambda s: s["requests_per_second"] or 0)
            mid = best[len(best) // 2]
            mid["requests_per_second_runs"] = [
                s["requests_per_second"] for s in summaries
            ]
            mid["p95_ms"] = round(median([s["p95_ms"] for s in summaries]), 1)
            mid["overdrafts"] = max(s["overdrafts"] for s in summaries)
            result[name] = mid
    result["server_log"] = server.log_counts
    return result


def soak(registry, env_factory, conf, db, clients=8, total=20000):
    try:
        key = api_key(registry, env_factory)
    except NotAvailable as error:
        return {"status": "not available", "reason": str(error)}
    cards = _cards(registry, env_factory, 1000)
    per_client = max(total // clients, 1)
    with OdooServer(conf, db) as server:
        status, _body = server.request("GET", BASE + "/openapi.json")
        if status == 404:
            return {"status": "not available", "reason": f"{BASE} is not served"}

        def work(client, i, stats):
            rnd = random.Random(i)
            for _j in range(per_client):
                code = rnd.choice(cards)[1]
                if rnd.random() < 0.7:
                    client.call(
                        "POST", f"{BASE}/accruals", _accrual(code, "soak"), stats
                    )
                else:
                    client.call(
                        "POST",
                        f"{BASE}/redemptions",
                        _redemption(code, "soak", rnd.choice([1.0, 5.0, 20.0])),
                        stats,
                    )

        stats, seconds = _parallel(server, key, clients, work)
    summary = _summary(stats, seconds, overdrafts(registry, env_factory))
    summary["server_log"] = server.log_counts
    with env_factory(registry) as env:
        summary["mismatches"] = len(env["loyalty.ledger"]._loyalty_find_mismatches())
    return summary
