"""Where an API request's time goes: the whole HTTP stack of Odoo in-process.

``python -m bench.profile_api --conf C --db D [--case lookup] [--requests 300]``
runs the requests through Odoo's own WSGI application (routing, the database
transaction, authentication, the operation, JSON serialization) under cProfile,
one client, and prints the functions that cost the most time, cumulative and
own. The JSON-RPC floor (``/web/webclient/version_info``) can be profiled the
same way (``--case floor``) to see what every request costs anyway.
"""

import argparse
import cProfile
import io
import json
import pstats
import time
import uuid

from .api_bench import BASE, _cards, api_key
from .odoo_env import environment, load_registry
from .stats import percentile


def _requests(case, key, cards, count):
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for i in range(count):
        code = cards[i % len(cards)][1]
        if case == "floor":
            yield (
                "POST",
                "/web/webclient/version_info",
                {"jsonrpc": "2.0", "method": "call", "params": {}},
                {"Content-Type": "application/json"},
            )
        elif case == "lookup":
            yield "GET", f"{BASE}/members/lookup?card={code}", None, auth
        elif case == "accrual":
            body = {
                "card": code,
                "amount": 100.0 + i % 50,
                "idempotency_key": f"profile-{uuid.uuid4()}",
            }
            yield "POST", f"{BASE}/accruals", body, auth
        else:
            raise ValueError(case)


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.profile_api")
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument(
        "--case", default="lookup", choices=["floor", "lookup", "accrual"]
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="measure queries and CPU per request without cProfile's overhead",
    )
    args = parser.parse_args()
    registry = load_registry(args.conf, args.db)
    from werkzeug.test import Client

    import odoo.http

    key = api_key(registry, environment)
    cards = _cards(registry, environment, 200)
    client = Client(odoo.http.root)
    requests = list(_requests(args.case, key, cards, args.requests + 20))
    for method, path, body, headers in requests[:20]:  # warm the caches
        client.open(path, method=method, json=body, headers=headers)
    import odoo.sql_db

    latencies, statuses = [], {}
    profiler = cProfile.Profile()
    queries0, cpu0 = odoo.sql_db.sql_counter, time.process_time()
    for method, path, body, headers in requests[20:]:
        t0 = time.perf_counter()
        if not args.no_profile:
            profiler.enable()
        response = client.open(
            path,
            method=method,
            data=json.dumps(body) if body is not None else None,
            headers=headers,
        )
        if not args.no_profile:
            profiler.disable()
        latencies.append((time.perf_counter() - t0) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    n = len(latencies)
    queries = (odoo.sql_db.sql_counter - queries0) / n
    cpu = (time.process_time() - cpu0) * 1000 / n
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(
        f"{args.case}: {n} requests, statuses {statuses}, p50 {p50:.2f} ms, "
        f"p95 {p95:.2f} ms, {queries:.1f} queries and {cpu:.2f} ms of CPU (this "
        f"process{'' if args.no_profile else ', profiler included'}) per request"
    )
    if args.no_profile:
        return
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
