"""(5) KPI dashboard and segment count at full size: seconds to open.

What a manager's browser makes the server do:
- "dashboard, N months" (N = 3, 12, 24): *Loyalty → Reporting → Dashboard* on a
  period of N months: ``loyalty.dashboard.get_dashboard_data`` (every figure
  against the period before, the monthly series of the charts, tiers, stores,
  payback), read from the facts the analytics job keeps;
- "segment count": a segment (women 25-45 with a balance of at least 100 points who
  bought within 180 days) created and its member count read, as its form does.

Before measuring, the nightly jobs run once as the night before would have: RFM
(segments filter on it) and the analytics facts (a full recomputation), both
timed; then the facts job's hourly run with nothing changed, timed too.
``BENCH_KPI=model:method[,model:method]`` times extra api.model methods.
"""

import os
import time

from .stats import median


def _dashboard(months):
    def call(env):
        data = env["loyalty.dashboard"].get_dashboard_data(months=months)
        return data["kpis"]["members_total"]["value"]

    return call


def _segment_count(env):
    segment = env["loyalty.segment"].create(
        {
            "name": "bench",
            "gender": "female",
            "age_min": 25,
            "age_max": 45,
            "balance_min": 100,
            "bought_within_days": 180,
        }
    )
    return segment.read(["member_count"])[0]["member_count"]


SCENARIOS = [
    ("dashboard, 3 months", "loyalty.dashboard", _dashboard(3)),
    ("dashboard, 12 months", "loyalty.dashboard", _dashboard(12)),
    ("dashboard, 24 months", "loyalty.dashboard", _dashboard(24)),
    ("segment count", "loyalty.segment", _segment_count),
]


def scenarios():
    extra = [
        ("custom " + item, item.split(":", 1)[0], _method(*item.split(":", 1)))
        for item in os.environ.get("BENCH_KPI", "").split(",")
        if ":" in item
    ]
    return SCENARIOS + extra


def _method(model, method):
    return lambda env: getattr(env[model], method)()


def _timed_job(registry, env_factory, job):
    with env_factory(registry, commit=True) as env:
        t0 = time.perf_counter()
        job(env)
        env.flush_all()
        return round(time.perf_counter() - t0, 2)


def run(registry, env_factory, runs=3):
    with env_factory(registry) as env:
        available = [s for s in scenarios() if s[1] in env]
        has_facts = "loyalty.analytics" in env
    if not available:
        return {
            "status": "not available",
            "reason": "no KPI dashboard or segment model in this database",
        }
    result = {}
    # segments filter on the purchase statistics the nightly RFM job keeps
    # on each member (last purchase, counts, spend): on generated data,
    # run it once first, as the night before would have
    with env_factory(registry) as env:
        rfm_missing = "loyalty_last_purchase_date" in env[
            "res.partner"
        ]._fields and not env["res.partner"].search_count(
            [("loyalty_last_purchase_date", "!=", False)], limit=1
        )
    if rfm_missing:
        result["rfm_job_run_first_seconds"] = _timed_job(
            registry, env_factory, lambda env: env["res.partner"]._cron_compute_rfm()
        )
    if has_facts:
        result["facts_job_full_seconds"] = _timed_job(
            registry,
            env_factory,
            lambda env: env["loyalty.analytics"]._refresh_facts(full=True),
        )
        result["facts_job_hourly_nothing_changed_seconds"] = _timed_job(
            registry, env_factory, lambda env: env["loyalty.analytics"]._refresh_facts()
        )
        with env_factory(registry) as env:
            env.cr.execute(
                "SELECT (SELECT COUNT(*) FROM loyalty_kpi_purchase)"
                " + (SELECT COUNT(*) FROM loyalty_kpi_points)"
                " + (SELECT COUNT(*) FROM loyalty_kpi_member)"
                " + (SELECT COUNT(*) FROM loyalty_kpi_active),"
                " (SELECT COUNT(*) FROM loyalty_kpi_customer)"
            )
            read_rows, customer_rows = env.cr.fetchone()
        result["facts_rows_read_by_the_dashboard"] = read_rows
        result["facts_customer_month_rows"] = customer_rows
    for label, _model, call in available:
        times = []
        for _run in range(runs):
            with env_factory(registry) as env:
                env.invalidate_all()
                t0 = time.perf_counter()
                value = call(env)
                env.flush_all()
                times.append(time.perf_counter() - t0)
        result[label] = {
            "entry_point": _model,
            "seconds": round(median(times), 3),
            "runs_seconds": [round(t, 3) for t in times],
            "runs": runs,
        }
        if value is not None:
            result[label]["value"] = value
    return result
