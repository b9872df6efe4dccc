"""(5) KPI dashboard and segment count at full size: seconds to open.

The dashboards and segments are built in other branches; their entry points are
listed below and called when they exist (``hasattr``). Anything missing is
reported as "not available", never timed with a stand-in.
``BENCH_KPI=model:method[,model:method]`` adds or replaces entry points.
"""

import os
import time

from .stats import median

# (label, model, method): called with no argument on the model (api.model), or,
# for a method of a record, on every record of the model (e.g. a segment count).
ENTRY_POINTS = [
    ("dashboard", "loyalty.dashboard", "get_dashboard_data"),
    ("dashboard", "loyalty.dashboard", "_get_kpis"),
    ("dashboard", "loyalty.kpi", "get_kpis"),
    ("dashboard", "loyalty.program", "action_loyalty_dashboard"),
    ("segment count", "loyalty.segment", "_compute_member_count"),
    ("segment count", "loyalty.segment", "action_refresh"),
]


def entry_points():
    extra = os.environ.get("BENCH_KPI", "")
    points = [
        ("custom", *item.split(":", 1)) for item in extra.split(",") if ":" in item
    ]
    return points or ENTRY_POINTS


def run(registry, env_factory, runs=3):
    found = {}
    with env_factory(registry) as env:
        for label, model, method in entry_points():
            if label in found or model not in env:
                continue
            if hasattr(env[model], method):
                found[label] = (model, method)
    if not found:
        return {
            "status": "not available",
            "reason": "no KPI dashboard or segment entry point in this database "
            "(looked for: "
            + ", ".join(f"{m}.{f}" for _l, m, f in entry_points())
            + ")",
        }
    result = {}
    for label, (model, method) in found.items():
        times = []
        for _run in range(runs):
            with env_factory(registry) as env:
                env.invalidate_all()
                records = env[model]
                if method.startswith("_compute") or method.startswith("action_refresh"):
                    records = records.search([])
                t0 = time.perf_counter()
                getattr(records, method)()
                env.flush_all()
                times.append(time.perf_counter() - t0)
        result[label] = {
            "entry_point": f"{model}.{method}",
            "seconds": round(median(times), 3),
            "runs": runs,
        }
    return result
