"""(4) Nightly jobs over the whole base: seconds and peak memory of each.

Every job of loyalty_crm's scheduler (its ``ir.cron`` records, so the jobs other
features add are measured too) runs in its own process; the process's peak RSS
comes from ``os.wait4``. Each time is the median of ``runs`` runs of the job in
that process (the peak RSS covers all of them; ``registry_rss_mb`` is what the
process held once Odoo's registry was loaded, before the first run).
"""

import json
import os
import subprocess
import sys
import tempfile

from .stats import median


def jobs(registry, env_factory):
    with env_factory(registry) as env:
        env.cr.execute(
            "SELECT d.module || '.' || d.name, c.cron_name"
            "  FROM ir_model_data d JOIN ir_cron c ON c.id = d.res_id"
            " WHERE d.model = 'ir.cron' AND d.module = 'loyalty_crm'"
            " ORDER BY d.id"
        )
        return [
            (xmlid, name.get("en_US") if isinstance(name, dict) else name)
            for xmlid, name in env.cr.fetchall()
        ]


def run(registry, env_factory, conf, db, cwd, runs=3):
    results = {}
    for xmlid, name in jobs(registry, env_factory):
        # one process per job (its peak RSS is the job's), the runs inside it
        result, peak_kb = _measure(conf, db, xmlid, cwd, runs)
        results[xmlid.split(".", 1)[1]] = {
            "name": name,
            "seconds": round(median(result["runs_seconds"]), 3),
            "runs_seconds": [round(s, 3) for s in result["runs_seconds"]],
            "peak_rss_mb": round(peak_kb / 1024.0, 1),
            "registry_rss_mb": round(result["rss_before_kb"] / 1024.0, 1),
            "queries": result["queries"],
            "runs": runs,
        }
    return results


def _measure(conf, db, xmlid, cwd, runs=1):
    """Run the child, return its JSON result and its peak RSS (KiB)."""
    env = dict(os.environ)
    errfile = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.job", conf, db, xmlid, str(runs)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errfile,
    )
    # read the output ourselves, then reap the child with wait4 for its rusage
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        errfile.seek(0)
        raise RuntimeError(f"job {xmlid} failed:\n{errfile.read().decode()[-3000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result, usage.ru_maxrss
