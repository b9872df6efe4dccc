"""The printed table of a result."""


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value}{unit}"


def rows(result):  # noqa: C901 - one block per section
    s = result["sections"]
    out = []

    def status(name):
        sec = s.get(name, {})
        if sec.get("status") != "ran":
            detail = sec.get("reason") or sec.get("error", "")
            if len(detail) > 70:
                detail = detail[:67] + "..."
            out.append((name, sec.get("status", "-"), detail, ""))
            return None
        return sec

    sec = status("lookup")
    if sec:
        for kind in ("phone", "card"):
            k = sec[kind]
            out.append(
                (
                    f"(2) lookup by {kind}",
                    f"p50 {_fmt(k['p50_ms'], ' ms')}, p95 {_fmt(k['p95_ms'], ' ms')}",
                    f"{k['queries_min']}-{k['queries_max']} queries, Odoo CPU p50 "
                    f"{_fmt(k.get('cpu_p50_ms'), ' ms')}",
                    "p95 < 20 ms, <= 5 queries",
                )
            )
    sec = status("crons")
    if sec:
        for job, k in sec.items():
            if not isinstance(k, dict):
                continue
            out.append(
                (
                    f"(4) {job}",
                    f"{_fmt(k['seconds'], ' s')}",
                    f"peak RSS {_fmt(k['peak_rss_mb'], ' MB')}",
                    "< 60 s, < 1 GB",
                )
            )
    sec = status("pos")
    if sec:
        out.append(
            (
                f"(1) POS sync {sec['orders']} orders",
                f"ours {_fmt(sec['ours_ms_per_order'], ' ms')}/order, "
                f"native {_fmt(sec['native_ms_per_order'], ' ms')}/order",
                f"ratio {_fmt(sec['ratio'])}; bonus entries ours "
                f"{sec['bonus_points']['ours']['ledger_entries']}, native "
                f"{sec['bonus_points']['native']['ledger_entries']}",
                "ratio <= 1.2",
            )
        )
    sec = status("api")
    if sec:
        for case, k in sec.items():
            if not isinstance(k, dict) or "requests_per_second" not in k:
                continue
            out.append(
                (
                    f"(3) API {case}",
                    _fmt(k["requests_per_second"], " req/s")
                    + f", p95 {_fmt(k['p95_ms'], ' ms')}",
                    f"retries {k['retries']}, overdrafts {k['overdrafts']}",
                    "0 overdrafts",
                )
            )
    sec = status("floor")
    if sec:
        for case in ("floor", "lookup", "accrual, distinct cards", "accrual, one card"):
            k = sec[case]
            out.append(
                (
                    f"(3b) {case}",
                    _fmt(k["requests_per_second"], " req/s")
                    + f", p50 {_fmt(k['p50_ms'], ' ms')}",
                    f"{k['requests']} requests, retries {k['retries']}, "
                    f"failed {k['failed']}",
                    "",
                )
            )
        ratios, one = sec["ratios"], sec["one card"]
        out.append(
            (
                "(3b) API / Odoo's floor",
                f"lookup {_fmt(ratios['lookup / floor'])}, "
                f"accrual {_fmt(ratios['accrual / floor'])}",
                "same server, same run",
                "lookup >= 0.70, accrual >= 0.50",
            )
        )
        out.append(
            (
                "(3b) one card",
                f"{_fmt(one['retries_per_1000'])} retries / 1,000",
                f"serialization failures {one['serialization_failures_in_server_log']},"
                f" 201 answers {one['answers_201']}, entries {one['ledger_entries']}, "
                f"lost {one['lost']}, paid twice {one['paid_twice']}, "
                f"overdrafts {one['overdrafts']}",
                "0 retries, 0 lost, 0 twice",
            )
        )
    sec = status("soak")
    if sec:
        out.append(
            (
                f"soak {sec['requests']} API requests",
                f"{_fmt(sec['requests_per_second'], ' req/s')}",
                f"cards off their ledger: {sec['mismatches']}",
                "0",
            )
        )
    sec = status("scale")
    if sec:
        reads, writes, one = sec["reads"], sec["writes"], sec["one card"]
        out.append(
            (
                "(6) replica + 2 servers",
                "passed" if sec["passed"] else "FAILED",
                ", ".join(
                    f"{k}: {'yes' if v else 'NO'}" for k, v in sec["checks"].items()
                ),
                "all yes",
            )
        )
        out.append(
            (
                "(6) reads / writes",
                f"{reads['lookups']} lookups: card index scans replica "
                f"{reads['replica_card_index_scans']}, primary "
                f"{reads['primary_card_index_scans']}",
                f"entries written on the primary {writes['entries_on_primary']}, "
                f"on the replica after replay "
                f"{writes['entries_on_replica_after_replay']}; one card paid "
                f"{one['paid']} of {one['payable']}",
                "",
            )
        )
        tp = sec["throughput"]
        out.append(
            (
                "(6) 1 vs 2 servers",
                f"{_fmt(tp['one server']['requests_per_second'], ' req/s')} vs "
                f"{_fmt(tp['two servers']['requests_per_second'], ' req/s')}",
                "3 lookups : 1 accrual, same clients",
                "",
            )
        )
    sec = status("kpi")
    if sec:
        for label in ("rfm_job_run_first_seconds", "facts_job_full_seconds"):
            if label in sec:
                out.append(
                    (
                        f"(5) {label.replace('_', ' ')}",
                        _fmt(sec[label], " s"),
                        "nightly job before the dashboard",
                        "< 60 s",
                    )
                )
        for label, k in sec.items():
            if isinstance(k, dict):
                out.append(
                    (
                        f"(5) {label}",
                        _fmt(k["seconds"], " s"),
                        k["entry_point"],
                        "< 1 s" if label.startswith("dashboard") else "< 2 s",
                    )
                )
    sec = status("import")
    if sec:
        for size in ("small", "full"):
            k = sec[size]
            out.append(
                (
                    f"(6) import {k['rows']:,} rows",
                    f"check {_fmt(k['check_seconds'], ' s')}, import "
                    f"{_fmt(k['import_seconds'], ' s')}, update "
                    f"{_fmt(k.get('update_seconds'), ' s')}",
                    f"peak RSS {_fmt(k['peak_rss_mb'], ' MB')}, "
                    f"{k['created']} created, {k['ledger_mismatches']} mismatches",
                    "100k < 120 s, memory flat",
                )
            )
    return out


def table(result):
    data = result.get("data", {})
    head = (
        f"loyalty_crm benchmark - {result['members']} members, "
        f"{data.get('ledger_entries')} ledger entries, {data.get('pos_orders')} POS "
        f"orders - {result['machine']['cpu']} x{result['machine']['cores']}, "
        f"PostgreSQL {result['machine']['postgresql']}, load average "
        f"{result['machine'].get('load_average_at_start')}"
    )
    lines = [("measure", "result", "detail", "target"), *rows(result)]
    widths = [max(len(str(line[i])) for line in lines) for i in range(4)]
    text = [head, ""]
    for i, line in enumerate(lines):
        text.append(
            "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
        )
        if i == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)
