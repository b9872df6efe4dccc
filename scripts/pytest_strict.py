"""pytest plugin loaded by scripts/test.sh (``-p pytest_strict``): a run only passes
when every collected test really ran and passed, and Odoo logged no error.

* A skipped test fails the run. Odoo's tests skip themselves when something they need
  is missing (``websocket-client``, a Chrome/Chromium binary, a devtools port...), and a
  skipped browser tour would otherwise look like a green run. xfail/xpass count too.
* A run in which no test passed fails (pytest already fails when nothing is collected).
* Odoo error logs fail the test during which they were written. Odoo's own runner
  does not fail a test for them either, but its CI (runbot) fails any build whose log
  holds an ERROR line: e.g. an exception raised in the browser after a tour ended, or
  an error logged by a controller serving a tour. Records at ERROR or above from the
  ``odoo`` and ``werkzeug`` loggers are counted. Errors a test expects are not, as long
  as the test silences them the usual Odoo way (``odoo.tools.mute_logger`` or
  ``self.assertLogs``), since those keep the records from reaching the root logger.
  Errors logged outside any test (e.g. at the end of the session) fail the run.
* With Odoo 18, pytest-odoo does not set ``odoo.modules.module.current_test`` as Odoo's
  runner does; several parts of Odoo check it (no real SMTP connection, no bus websocket
  during tests, test cursors), so it is set here for each test.
"""

import logging

import pytest

WATCHED_LOGGERS = ("odoo", "werkzeug")


class _ErrorRecorder(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records = []

    def emit(self, record):
        name = record.name
        if any(name == w or name.startswith(w + ".") for w in WATCHED_LOGGERS):
            self.records.append(record)

    def take(self):
        records, self.records = self.records, []
        return records


def _describe(records, limit=10):
    lines = []
    for record in records[:limit]:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the error
            message = str(record.msg)
        first = message.strip().splitlines()[0] if message.strip() else ""
        lines.append(f"  {record.levelname} {record.name}: {first[:300]}")
    if len(records) > limit:
        lines.append(f"  ... and {len(records) - limit} more")
    return "\n".join(lines)


def pytest_configure(config):
    recorder = _ErrorRecorder()
    logging.getLogger().addHandler(recorder)
    # Odoo's --log-level=critical (pytest-odoo's default) would drop error records
    # before any handler sees them: let errors through for the watched loggers.
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.ERROR:
            logger.setLevel(logging.ERROR)
    config._strict_recorder = recorder
    config._strict_outside = []
    config._strict_reasons = []


def _set_current_test(item):
    try:
        from odoo.modules import module
    except ImportError:
        return
    module.current_test = getattr(item, "instance", None) or True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _set_current_test(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    recorder = item.config._strict_recorder
    item.config._strict_outside.extend(recorder.take())
    yield
    # Records that survived until here (e.g. logged between phases) belong to no report.
    item.config._strict_outside.extend(recorder.take())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    records = item.config._strict_recorder.take()
    if not records:
        return
    if report.outcome == "skipped":
        item.config._strict_outside.extend(records)
        return
    text = (
        f"Odoo logged {len(records)} error(s) during {report.when} of this test:\n"
        + _describe(records)
    )
    if report.outcome == "passed":
        report.outcome = "failed"
        report.longrepr = text
    else:
        report.sections.append(("Odoo errors (pytest_strict)", text))


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    outside = config._strict_outside + config._strict_recorder.take()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stats = reporter.stats if reporter else {}
    reasons = config._strict_reasons

    for key in ("skipped", "xfailed", "xpassed"):
        if stats.get(key):
            reasons.append(f"{len(stats[key])} test(s) {key}: all must run and pass")
    if outside:
        reasons.append(
            f"Odoo logged {len(outside)} error(s) outside of any test:\n"
            + _describe(outside)
        )
    passed = [r for r in stats.get("passed", []) if getattr(r, "when", "") == "call"]
    if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        reasons.insert(0, "no test was collected (or all were deselected)")
    elif not passed and session.exitstatus == pytest.ExitCode.OK:
        reasons.insert(0, "no test passed")
    if reasons and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    reasons = getattr(config, "_strict_reasons", [])
    if reasons:
        terminalreporter.section(
            "pytest_strict: this run FAILS", sep="=", red=True, bold=True
        )
        for reason in reasons:
            terminalreporter.line(f"- {reason}", red=True)
