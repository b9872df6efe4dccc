"""Child process of the nightly-jobs benchmark: run one job, print its time.

``python -m bench.job CONF DB CRON_XMLID``. The job runs like the scheduler
runs it (the cron's own server action code), in one transaction that is rolled
back at the end so that every run starts from the same data; a job that
commits per batch (``loyalty_cron_commit``) has its commits turned into
flushes for the same reason. The parent reads the process's peak RSS.
"""

import json
import resource
import sys
import time

from .odoo_env import environment, load_registry


def main(conf, db, xmlid):
    registry = load_registry(conf, db)
    with environment(registry) as env:
        cron = env.ref(xmlid)
        # warm up what every job needs (registry, cron record) before timing
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        env.cr.commit = env.flush_all  # roll back at the end instead
        t0 = time.perf_counter()
        cron.ir_actions_server_id.with_context(
            lastcall=cron.lastcall, cron_id=cron.id
        ).run()
        env.flush_all()
        seconds = time.perf_counter() - t0
        queries = env.cr.sql_log_count
    print(
        json.dumps(
            {"seconds": seconds, "rss_before_kb": rss_before, "queries": queries}
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
