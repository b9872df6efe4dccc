"""(2) Member lookup by phone and by card number: latency and queries per lookup."""

import random
import time

from .stats import median, percentile


def run(registry, env_factory, samples=200, runs=5):
    """``samples`` lookups of each kind per run, cold cache each (a new request)."""
    with env_factory(registry) as env:
        env.cr.execute(
            "SELECT p.id, p.loyalty_phone, c.code FROM res_partner p"
            "  JOIN loyalty_card c ON c.id = p.loyalty_card_id"
            " WHERE p.loyalty_is_member AND c.loyalty_state = 'active'"
            " ORDER BY random() LIMIT %s",
            [samples],
        )
        rows = env.cr.fetchall()
    if not rows:
        raise RuntimeError("no members to look up")
    per_kind = {}
    for kind in ("phone", "card"):
        p50s, p95s, cpu50s, cpu95s, queries, misses = [], [], [], [], set(), 0
        for _run in range(runs):
            random.shuffle(rows)
            latencies, cpu = [], []
            with env_factory(registry) as env:
                Partner = env["res.partner"]
                for partner_id, phone, code in rows:
                    # what a cashier types: the national notation, or the card
                    term = (
                        "8 " + phone[2:5] + " " + phone[5:] if kind == "phone" else code
                    )
                    env.invalidate_all()
                    before = env.cr.sql_log_count
                    t0, c0 = time.perf_counter(), time.process_time()
                    found = Partner._loyalty_lookup(term)
                    latencies.append((time.perf_counter() - t0) * 1000.0)
                    cpu.append((time.process_time() - c0) * 1000.0)
                    queries.add(env.cr.sql_log_count - before)
                    misses += found.id != partner_id
            p50s.append(percentile(latencies, 50))
            p95s.append(percentile(latencies, 95))
            cpu50s.append(percentile(cpu, 50))
            cpu95s.append(percentile(cpu, 95))
        per_kind[kind] = {
            "p50_ms": round(median(p50s), 3),
            "p95_ms": round(median(p95s), 3),
            # CPU time of the Odoo process alone: what the lookup costs, whatever
            # the load of the (shared) machine
            "cpu_p50_ms": round(median(cpu50s), 3),
            "cpu_p95_ms": round(median(cpu95s), 3),
            "queries_min": min(queries),
            "queries_max": max(queries),
            "wrong_results": misses,
            "samples": len(rows),
            "runs": runs,
        }
    return per_kind
