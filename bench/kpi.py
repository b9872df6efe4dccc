"""(5) KPI dashboard and segment count at full size: seconds to open.

What a manager's browser makes the server do:
- "dashboard": open *Loyalty → Reporting → Dashboard* — a new ``loyalty.dashboard``
  on its default period (the last three months) and every field of its form read
  (KPIs, tiers, stores, portrait, payback);
- "dashboard, 12 months": the same on the last twelve months;
- "segment count": a segment (women 25-45 with a balance of at least 100 points who
  bought within 180 days: the generated POS orders are 120 to 190 days old) created
  and its member count read, as its form does.
``BENCH_KPI=model:method[,model:method]`` times extra api.model methods.
"""

import os
import time

from .stats import median


def _open_dashboard(env, period=None):
    Dashboard = env["loyalty.dashboard"]
    vals = {}
    if period:
        date_from, date_to = Dashboard._period_dates(period)
        vals = {"period": period, "date_from": date_from, "date_to": date_to}
    Dashboard.create(vals).read(list(Dashboard._fields))


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
    ("dashboard", "loyalty.dashboard", lambda env: _open_dashboard(env)),
    (
        "dashboard, 12 months",
        "loyalty.dashboard",
        lambda env: _open_dashboard(env, "last_12"),
    ),
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


def run(registry, env_factory, runs=3):
    with env_factory(registry) as env:
        available = [s for s in scenarios() if s[1] in env]
    if not available:
        return {
            "status": "not available",
            "reason": "no KPI dashboard or segment model in this database",
        }
    result = {}
    with env_factory(registry, commit=True) as env:
        # segments filter on the purchase statistics the nightly RFM job keeps
        # on each member (last purchase, counts, spend): on generated data,
        # run it once first, as the night before would have
        if "loyalty_last_purchase_date" in env["res.partner"]._fields and not env[
            "res.partner"
        ].search_count([("loyalty_last_purchase_date", "!=", False)], limit=1):
            t0 = time.perf_counter()
            env["res.partner"]._cron_compute_rfm()
            result["rfm_job_run_first_seconds"] = round(time.perf_counter() - t0, 2)
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
