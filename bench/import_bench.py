"""(6) Import of an existing program: a file of members with cards, consents and
balances, checked (dry run) then imported, in a child process (its peak RSS is
the import's). Run at a tenth of the size too: the peak memory of both shows
whether it grows with the number of rows."""

import json
import os
import subprocess
import sys
import tempfile


def _measure(conf, db, cwd, rows):
    errfile = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.import_job", conf, db, str(rows)],
        cwd=cwd,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=errfile,
    )
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        errfile.seek(0)
        raise RuntimeError(f"import of {rows} rows failed:\n{errfile.read()[-3000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024.0, 1)
    result["registry_rss_mb"] = round(result.pop("rss_before_kb") / 1024.0, 1)
    result["rss_after_upload_mb"] = round(result.pop("rss_after_upload_kb") / 1024.0, 1)
    result["rss_after_check_mb"] = round(result.pop("rss_after_check_kb") / 1024.0, 1)
    result["rss_after_import_mb"] = round(result.pop("rss_after_import_kb") / 1024.0, 1)
    result["rows_per_second"] = round(
        rows / max(result["check_seconds"] + result["import_seconds"], 0.001), 1
    )
    return result


def run(conf, db, cwd, rows=100000):
    small = max(rows // 10, 100)
    return {
        "small": _measure(conf, db, cwd, small),
        "full": _measure(conf, db, cwd, rows),
    }
