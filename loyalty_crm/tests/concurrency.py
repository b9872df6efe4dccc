"""What the concurrency tests share: jobs run in threads released together, each on
its own cursor, and the removal of the members they committed."""

import contextlib
import logging
import threading

CONCURRENCY_ERRORS = ("could not serialize access", "deadlock detected")


def run_together(registry, jobs, make_env, timeout=120):
    """Run every ``job(env)`` of ``jobs`` in its own thread and cursor (``env`` from
    ``make_env(cr)``), all released at once by a barrier; returns their outcomes in
    the order they finished. Fails when a thread does not finish in time."""
    barrier = threading.Barrier(len(jobs))
    outcomes = []
    lock = threading.Lock()

    def run(job):
        with registry.cursor() as cr:
            env = make_env(cr)
            barrier.wait(timeout=60)
            outcome = job(env)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if len(outcomes) != len(jobs):
        raise AssertionError("a thread did not finish")
    return outcomes


def delete_members(cr, partner_ids):
    """Delete committed test members with their cards, ledgers, consents and
    messages (the ledger refuses it through the ORM, as it should)."""
    if not partner_ids:
        return
    ids = tuple(partner_ids)
    cr.execute("SELECT id FROM loyalty_card WHERE partner_id IN %s", [ids])
    card_ids = tuple(r[0] for r in cr.fetchall()) or (0,)
    cr.execute("DELETE FROM loyalty_ledger WHERE card_id IN %s", [card_ids])
    cr.execute("DELETE FROM loyalty_consent WHERE partner_id IN %s", [ids])
    cr.execute("DELETE FROM loyalty_card WHERE id IN %s", [card_ids])
    cr.execute(
        "DELETE FROM mail_message WHERE model IN ('res.partner', 'loyalty.card') "
        "AND res_id IN %s",
        [ids + card_ids],
    )
    cr.execute("DELETE FROM res_partner WHERE id IN %s", [ids])


class _CountConcurrencyErrors(logging.Filter):
    def __init__(self):
        super().__init__()
        self.count = 0
        self.other = []

    def filter(self, record):
        message = record.getMessage()
        if any(error in message for error in CONCURRENCY_ERRORS):
            self.count += 1
        else:
            self.other.append(message)
        return False  # counted (or kept for the test to show), not logged


@contextlib.contextmanager
def concurrency_errors():
    """Count the queries that failed on a concurrent update (serialization
    failure, deadlock: each one replayed by the API or by Odoo) while muting
    Odoo's "bad query" log lines; yields the counter (``.count``, and the other
    failed queries in ``.other``)."""
    counter = _CountConcurrencyErrors()
    logger = logging.getLogger("odoo.sql_db")
    logger.addFilter(counter)
    try:
        yield counter
    finally:
        logger.removeFilter(counter)
