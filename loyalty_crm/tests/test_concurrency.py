"""Concurrency on real PostgreSQL: separate cursors in separate threads.

These tests commit on purpose: the other cursors must see their data.

The data these tests need is committed (other cursors must see it) and removed
again in the cleanup.
"""

import random
import threading
import time

from psycopg2 import IntegrityError, OperationalError

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.exceptions import UserError, ValidationError
from odoo.modules.registry import Registry
from odoo.service.model import (
    MAX_TRIES_ON_CONCURRENCY_FAILURE,
    PG_CONCURRENCY_ERRORS_TO_RETRY,
)
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import mute_logger

from .concurrency import delete_members, run_together


@tagged("post_install", "-at_install")
class TestConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        self.partner_ids = []
        self.addCleanup(self._cleanup)

    def _env(self, cr):
        # Give the cursor its transaction ourselves: Environment() would otherwise
        # look the registry up under the registry lock, which the test runner
        # holds while it runs post-install tests.
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def _cleanup(self):
        if not self.partner_ids:
            return
        with self.registry.cursor() as cr:
            delete_members(cr, self.partner_ids)

    @staticmethod
    def _phone():
        return "+7916" + "".join(random.choice("0123456789") for _i in range(7))

    def _committed_member(self, phone, points=0):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            partner = env["res.partner"].create(
                {"name": f"Concurrent {phone}", "phone": phone}
            )
            self.partner_ids.append(partner.id)
            cr.commit()  # pylint: disable=invalid-commit
            partner._loyalty_enrol()
            if points:
                env["loyalty.ledger"]._post(
                    partner.loyalty_card_id, points, "adjustment", reason="setup"
                )
            cr.commit()  # pylint: disable=invalid-commit
            return partner.id, partner.loyalty_card_id.id

    @staticmethod
    def _retrying(work, env):
        """What Odoo does with a request: retry on serialization failures.

        (``odoo.service.model.retrying`` can't be used here: it looks the registry
        up under the lock the test runner holds.) Returns ``"ok"`` or the refusal.
        """
        for _attempt in range(MAX_TRIES_ON_CONCURRENCY_FAILURE * 4):
            try:
                work(env)
                env.flush_all()
                env.cr.commit()  # pylint: disable=invalid-commit
                return "ok"
            except UserError as error:  # ValidationError included
                env.cr.rollback()
                return error
            except IntegrityError as error:
                env.cr.rollback()
                return error
            except OperationalError as error:
                env.cr.rollback()
                env.clear()
                if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                    raise
                time.sleep(random.uniform(0, 0.05))
        return "gave up"

    @mute_logger("odoo.sql_db")
    def _run_parallel(self, count, work):
        """Run ``work(env)`` in ``count`` threads started together, one cursor each."""
        jobs = [lambda env: self._retrying(work, env)] * count
        return run_together(self.registry, jobs, self._env)

    def _card_state(self, card_id):
        with self.registry.cursor() as cr:
            cr.execute("SELECT points FROM loyalty_card WHERE id = %s", [card_id])
            points = cr.fetchone()[0]
            cr.execute(
                "SELECT COALESCE(SUM(points), 0) FROM loyalty_ledger WHERE card_id = "
                "%s "
                "AND state IN ('available', 'posted')",
                [card_id],
            )
            return points, float(cr.fetchone()[0])

    def test_parallel_redemptions_never_overdraw(self):
        _partner_id, card_id = self._committed_member(self._phone(), points=100)

        def redeem(env):
            env["loyalty.ledger"]._post(
                env["loyalty.card"].browse(card_id), -80, "redemption"
            )

        outcomes = self._run_parallel(20, redeem)
        self.assertEqual(outcomes.count("ok"), 1, outcomes)
        refusals = [o for o in outcomes if o != "ok"]
        self.assertTrue(all("cannot be taken" in str(o) for o in refusals), refusals)
        self.assertEqual(self._card_state(card_id), (20.0, 20.0))

    def test_parallel_accruals_are_never_lost(self):
        _partner_id, card_id = self._committed_member(self._phone())

        def accrue(env):
            env["loyalty.ledger"]._post(
                env["loyalty.card"].browse(card_id), 10.01, "accrual"
            )

        outcomes = self._run_parallel(10, accrue)
        self.assertEqual(outcomes, ["ok"] * 10)
        self.assertEqual(self._card_state(card_id), (100.1, 100.1))

    def test_parallel_enrolments_of_one_phone(self):
        ids = []
        phone = self._phone()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            for i in range(2):
                ids.append(
                    env["res.partner"].create({"name": f"Twin {i}", "phone": phone}).id
                )
            self.partner_ids.extend(ids)
            cr.commit()  # pylint: disable=invalid-commit
        turn = iter(ids)
        turn_lock = threading.Lock()

        def enrol(env):
            with turn_lock:
                partner_id = next(turn)
            env["res.partner"].browse(partner_id)._loyalty_enrol()

        outcomes = self._run_parallel(2, enrol)
        self.assertEqual(outcomes.count("ok"), 1, outcomes)
        refusal = next(o for o in outcomes if o != "ok")
        # the database's unique index decides (Odoo shows its message to the user)
        self.assertIsInstance(refusal, (ValidationError, IntegrityError))
        if isinstance(refusal, IntegrityError):
            self.assertIn("loyalty_phone_unique", str(refusal))
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT COUNT(*) FROM res_partner WHERE loyalty_phone = %s", [phone]
            )
            self.assertEqual(cr.fetchone()[0], 1)

    def test_parallel_replacement_of_one_card(self):
        _partner_id, card_id = self._committed_member(self._phone(), points=50)

        def replace(env):
            env["loyalty.card"].browse(card_id)._loyalty_replace("lost twice")

        outcomes = self._run_parallel(3, replace)
        self.assertEqual(outcomes.count("ok"), 1, outcomes)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT loyalty_state, points FROM loyalty_card WHERE partner_id = "
                "%s ORDER BY id",
                [_partner_id],
            )
            self.assertEqual(cr.fetchall(), [("lost", 0.0), ("active", 50.0)])

    def test_parallel_accrual_of_one_order_counts_once(self):
        partner_id, card_id = self._committed_member(self._phone())
        with self.registry.cursor() as cr:
            env = self._env(cr)
            product = env["product.product"].create(
                {"name": "Concurrent service", "type": "service"}
            )
            program = env["res.partner"].browse(partner_id).loyalty_card_id.program_id
            program.rule_ids = [
                (5, 0, 0),
                (0, 0, env.company._loyalty_bonus_rule_values()),
            ]
            order = env["sale.order"].create(
                {
                    "partner_id": partner_id,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_uom_qty": 1,
                                "price_unit": 1000,
                                "tax_id": [(5, 0, 0)],
                            },
                        )
                    ],
                }
            )
            order.action_confirm()
            order_id, product_id = order.id, product.id
            # forget the accrual of the confirmation: the threads race to post it
            cr.execute(
                "DELETE FROM loyalty_ledger"
                " WHERE res_model = 'sale.order' AND res_id = %s",
                [order_id],
            )
            cr.execute("UPDATE loyalty_card SET points = 0 WHERE id = %s", [card_id])
            cr.commit()  # pylint: disable=invalid-commit

        def accrue(env):
            env["sale.order"].browse(order_id)._loyalty_accrue()

        try:
            outcomes = self._run_parallel(5, accrue)
            self.assertEqual(self._card_state(card_id), (50.0, 50.0), outcomes)
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT COUNT(*) FROM loyalty_ledger"
                    " WHERE res_model = 'sale.order' AND res_id = %s",
                    [order_id],
                )
                self.assertEqual(cr.fetchone()[0], 1)
        finally:
            with self.registry.cursor() as cr:
                cr.execute(
                    "DELETE FROM loyalty_ledger"
                    " WHERE res_model = 'sale.order' AND res_id = %s",
                    [order_id],
                )
                cr.execute("DELETE FROM sale_order WHERE id = %s", [order_id])
                cr.execute("DELETE FROM product_product WHERE id = %s", [product_id])
