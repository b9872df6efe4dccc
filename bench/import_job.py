"""Child process of the import benchmark: check then import a generated file.

``python -m bench.import_job CONF DB ROWS``. A CSV of ``ROWS`` members (phones
+7 925 ..., not used by the generated base), each with an old card number, a
birth date, gender, city, acquisition source, a dated SMS consent, a balance and
its expiry date, is checked (dry run) then imported through
``loyalty.import.batch`` (new members: the set-based path), then a second file of
the same members filling what the first left blank, with a later consent (every
row an update, through the ORM); one transaction rolled back at the end. Prints
the times as JSON; the parent reads the process's peak RSS.
"""

import base64
import datetime
import io
import json
import resource
import sys
import time

from .odoo_env import environment, load_registry

HEADER = (
    "name,phone,email,card,birthdate,gender,city,source,consent,consent_date,"
    "consent_channel,points,expiry_date\n"
)


def make_file(rows):
    expiry = (datetime.date.today() + datetime.timedelta(days=300)).isoformat()
    out = io.StringIO()
    out.write(HEADER)
    for i in range(rows):
        out.write(
            f"Клиент {i},8 925 {i:07d},c{i}@example.com,OLD-{i:07d},"
            f"{1960 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d},"
            f"{'жм'[i % 2]},Город {i % 50},Старая программа,да,"
            f"01.0{1 + i % 9}.2024,sms,{i % 1000}.{i % 100:02d},{expiry}\n"
        )
    return out.getvalue().encode()


UPDATE_HEADER = (
    "name,phone,card,occupation,marital status,employment,consent,consent_date,"
    "consent_channel\n"
)


def make_update_file(rows):
    """The same members again, with what the first file left blank (occupation,
    marital status, employment) and a later e-mail consent: every row an update
    of an existing member, through the ORM."""
    out = io.StringIO()
    out.write(UPDATE_HEADER)
    jobs = ("врач", "инженер", "продавец", "учитель")
    for i in range(rows):
        out.write(
            f"Клиент {i},8 925 {i:07d},OLD-{i:07d},{jobs[i % 4]},"
            f"{('женат', 'холост')[i % 2]},работает,да,01.06.2025,email\n"
        )
    return out.getvalue().encode()


def main(conf, db, rows):
    rows = int(rows)
    registry = load_registry(conf, db)
    data = make_file(rows)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with environment(registry) as env:
        batch = env["loyalty.import.batch"].create(
            {"name": "bench.csv", "file": base64.b64encode(data)}
        )
        env.flush_all()
        rss_upload = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start_queries = env.cr.sql_log_count
        t0 = time.perf_counter()
        batch.action_check()
        env.flush_all()
        check_seconds = time.perf_counter() - t0
        check_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        batch.action_import()
        env.flush_all()
        import_seconds = time.perf_counter() - t0
        import_queries = env.cr.sql_log_count - start_queries
        rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # the same members again: updates of existing members (the ORM's path)
        update = env["loyalty.import.batch"].create(
            {"name": "update.csv", "file": base64.b64encode(make_update_file(rows))}
        )
        update.action_check()
        env.flush_all()
        queries = env.cr.sql_log_count
        t0 = time.perf_counter()
        update.action_import()
        env.flush_all()
        update_seconds = time.perf_counter() - t0
        result = {
            "rows": rows,
            "file_mb": round(len(data) / 1024 / 1024, 1),
            "check_seconds": round(check_seconds, 1),
            "import_seconds": round(import_seconds, 1),
            "created": batch.created_count,
            "refused": batch.refused_count,
            "opening_points": batch.points_total,
            "ledger_mismatches": len(env["loyalty.ledger"]._loyalty_find_mismatches()),
            "queries": import_queries,
            "update_seconds": round(update_seconds, 1),
            "updated": update.updated_count,
            "update_queries": env.cr.sql_log_count - queries,
            "ledger_mismatches_after_update": len(
                env["loyalty.ledger"]._loyalty_find_mismatches()
            ),
            "rss_before_kb": rss_before,
            "rss_after_upload_kb": rss_upload,
            "rss_after_check_kb": check_rss,
            "rss_after_import_kb": rss_after_import,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
