"""Real concurrency of the API's service layer: threads, one cursor each.

(Odoo's test HTTP server runs every request on the test's single cursor, so
parallel HTTP requests there would be serialized: the concurrency is tested
here, on the code the controllers call.)
"""

import random

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import mute_logger

from ..models.loyalty_api import ApiError, run_with_retries
from .concurrency import delete_members, run_together


@tagged("post_install", "-at_install")
class TestApiConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        self.partner_ids = []
        self.addCleanup(self._cleanup)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            admin = env.ref("base.user_admin")
            group = env.ref("loyalty_crm.group_loyalty_api")
            self.had_group = group in admin.groups_id
            admin.write({"groups_id": [(4, group.id)]})
            self.api_uid = admin.id
            program = env.company.loyalty_bonus_program_id
            self.program_vals = program.read(
                ["max_redeem_share", "min_balance_to_spend", "pending_days"]
            )[0]
            program.write(
                {"max_redeem_share": 100, "min_balance_to_spend": 0, "pending_days": 0}
            )
            self.program_id = program.id
            cr.commit()  # pylint: disable=invalid-commit

    def _env(self, cr):
        # see test_concurrency: the registry lock is held by the test runner
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            if not self.had_group:
                env.ref("base.user_admin").write(
                    {"groups_id": [(3, env.ref("loyalty_crm.group_loyalty_api").id)]}
                )
            vals = {k: v for k, v in self.program_vals.items() if k != "id"}
            env["loyalty.program"].browse(self.program_id).write(vals)
            env.flush_all()
            cr.execute(
                "DELETE FROM loyalty_api_request WHERE user_id = %s "
                "AND idempotency_key LIKE 'conc-%%'",
                [self.api_uid],
            )
            delete_members(cr, self.partner_ids)

    def _committed_member(self, points):
        phone = "+7916" + "".join(random.choice("0123456789") for _i in range(7))
        with self.registry.cursor() as cr:
            env = self._env(cr)
            partner = env["res.partner"].create({"name": "API race", "phone": phone})
            self.partner_ids.append(partner.id)
            cr.commit()  # pylint: disable=invalid-commit
            partner._loyalty_enrol()
            card = partner.loyalty_card_id
            env["loyalty.ledger"]._post(card, points, "adjustment", reason="setup")
            cr.commit()  # pylint: disable=invalid-commit
            return card.id, card.code

    def _call(self, env, operation, body):
        """One API call as the controller makes it (replayed on concurrent
        updates), committed, or rolled back on a refusal."""
        try:
            result = run_with_retries(env, self.api_uid, operation, {}, {}, body)
            env.cr.commit()  # pylint: disable=invalid-commit
            return result
        except ApiError as error:
            env.cr.rollback()
            return error.status, error.payload()

    @mute_logger("odoo.sql_db")
    def _run_parallel(self, bodies, operation):
        jobs = [
            lambda env, body=body: self._call(env, operation, body) for body in bodies
        ]
        return run_together(self.registry, jobs, self._env, timeout=180)

    def _balance(self, card_id):
        with self.registry.cursor() as cr:
            cr.execute("SELECT points FROM loyalty_card WHERE id = %s", [card_id])
            points = cr.fetchone()[0]
            cr.execute(
                "SELECT COALESCE(SUM(points), 0), COUNT(*) FILTER "
                "(WHERE entry_type = 'redemption') FROM loyalty_ledger "
                "WHERE card_id = %s AND state IN ('available', 'posted')",
                [card_id],
            )
            total, redemptions = cr.fetchone()
            return points, float(total), redemptions

    def test_20_parallel_redemptions_never_overdraw(self):
        card_id, code = self._committed_member(100)
        bodies = [
            {
                "card": code,
                "points": 30,
                "order_amount": 1000,
                "idempotency_key": f"conc-red-{i}",
            }
            for i in range(20)
        ]
        outcomes = self._run_parallel(bodies, "redeem")
        statuses = sorted(status for status, _payload in outcomes)
        self.assertEqual(statuses, [201] * 3 + [422] * 17, outcomes)
        self.assertTrue(
            all(
                payload["error"]["code"] == "insufficient_points"
                for status, payload in outcomes
                if status == 422
            )
        )
        self.assertEqual(self._balance(card_id), (10.0, 10.0, 3))

    def test_parallel_replays_of_one_key_post_once(self):
        card_id, code = self._committed_member(100)
        body = {
            "card": code,
            "points": 10,
            "order_amount": 1000,
            "idempotency_key": "conc-same",
        }
        outcomes = self._run_parallel([dict(body) for _i in range(8)], "redeem")
        statuses = sorted(status for status, _payload in outcomes)
        self.assertEqual(statuses, [200] * 7 + [201], outcomes)
        self.assertEqual(len({str(p) for _s, p in outcomes}), 1, outcomes)
        self.assertEqual(self._balance(card_id), (90.0, 90.0, 1))
        # a parallel different body under the same key is a conflict, never a 5xx
        other = dict(body, idempotency_key="conc-other")
        outcomes = self._run_parallel(
            [dict(other, points=points) for points in (1, 2, 3, 4)], "redeem"
        )
        statuses = sorted(status for status, _payload in outcomes)
        self.assertEqual(statuses, [201, 409, 409, 409], outcomes)
        self.assertEqual(self._balance(card_id)[2], 2)

    def test_40_parallel_accruals_on_one_card_all_count(self):
        card_id, code = self._committed_member(0.5)
        bodies = [
            {"card": code, "amount": 100, "idempotency_key": f"conc-acc-{i}"}
            for i in range(40)
        ]
        outcomes = self._run_parallel(bodies, "accrue")
        self.assertEqual([s for s, _p in outcomes], [201] * 40, outcomes)
        self.assertEqual(self._balance(card_id)[:2], (200.5, 200.5))
