"""Child process of the nightly-jobs benchmark: run one job, print its times.

``python -m bench.job CONF DB CRON_XMLID [RUNS]``. The job runs like the
scheduler runs it (the cron's own server action code), ``RUNS`` times, each in
a transaction that is rolled back so that every run starts from the same data;
a job that commits per batch (``loyalty_cron_commit``) has its commits turned
into flushes (with the pre-commit hooks, e.g. the chatter's tracking, which a
commit runs) for the same reason. The parent reads the process's peak RSS.
"""

import json
import resource
import statistics
import sys
import time

from .odoo_env import environment, load_registry


def main(conf, db, xmlid, runs=1):
    registry = load_registry(conf, db)
    times, queries = [], []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _run in range(int(runs)):
        with environment(registry) as env:
            cron = env.ref(xmlid)
            # roll back at the end instead of committing; what a commit does
            # first (flush, then the pre-commit hooks: the chatter's tracking
            # messages) is done and measured
            env.cr.commit = env.cr.flush
            start_queries = env.cr.sql_log_count
            t0 = time.perf_counter()
            cron.ir_actions_server_id.with_context(
                lastcall=cron.lastcall, cron_id=cron.id
            ).run()
            env.cr.flush()
            times.append(time.perf_counter() - t0)
            queries.append(env.cr.sql_log_count - start_queries)
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "runs_seconds": times,
                "rss_before_kb": rss_before,
                "queries": queries[0],
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
