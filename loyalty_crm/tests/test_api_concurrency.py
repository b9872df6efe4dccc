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

from ..models.loyalty_api import ApiError, run_with_retries
from .concurrency import concurrency_errors, delete_members, run_together


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

    def _call(self, env, operation, body, args=None):
        """One API call as the controller makes it (replayed on concurrent
        updates), committed, or rolled back on a refusal."""
        try:
            result = run_with_retries(
                env, self.api_uid, operation, args or {}, {}, body
            )
            env.cr.commit()  # pylint: disable=invalid-commit
            return result
        except ApiError as error:
            env.cr.rollback()
            return error.status, error.payload()

    def _run_parallel(self, bodies, operation, args=None):
        """The calls in parallel; ``self.replays``: how many queries failed on a
        concurrent update (each one a replay) meanwhile."""
        jobs = [
            lambda env, body=body: self._call(env, operation, body, args)
            for body in bodies
        ]
        with concurrency_errors() as errors:
            outcomes = run_together(self.registry, jobs, self._env, timeout=180)
        self.assertFalse(errors.other, "queries failed for another reason")
        self.replays = errors.count
        return outcomes

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
        # each request waited for the card's lock: none failed and was replayed
        self.assertEqual(self.replays, 0)

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
        self.assertEqual(self.replays, 0)

    def test_mixed_spending_and_earning_on_one_card_adds_up(self):
        """Accruals and redemptions interleaved on one card: every accrual
        counts, no redemption overdraws, and the balance is exactly what the
        answers say was paid."""
        card_id, code = self._committed_member(50)
        bodies = [
            ("accrue", {"card": code, "amount": 100, "idempotency_key": f"conc-m{i}"})
            if i % 2
            else (
                "redeem",
                {
                    "card": code,
                    "points": 20,
                    "order_amount": 1000,
                    "idempotency_key": f"conc-m{i}",
                },
            )
            for i in range(24)
        ]
        jobs = [
            lambda env, op=op, body=body: (op, self._call(env, op, body))
            for op, body in bodies
        ]
        with concurrency_errors() as errors:
            outcomes = run_together(self.registry, jobs, self._env, timeout=180)
        self.assertFalse(errors.other)
        self.assertEqual(errors.count, 0)
        accrued = [s for op, (s, _p) in outcomes if op == "accrue"]
        self.assertEqual(accrued, [201] * 12, outcomes)
        paid = sum(1 for op, (s, _p) in outcomes if op == "redeem" and s == 201)
        refused = [
            p["error"]["code"] for op, (s, p) in outcomes if op == "redeem" and s != 201
        ]
        self.assertEqual(set(refused) - {"insufficient_points"}, set(), outcomes)
        # 50 + 12 accruals of 5 points (100 at the program's 5 %) - 20 per redemption
        expected = 50 + 12 * 5.0 - 20 * paid
        self.assertGreaterEqual(expected, 0)
        self.assertEqual(self._balance(card_id), (expected, expected, paid))

    def test_parallel_replacements_of_one_card_replace_it_once(self):
        """Read committed writes still decide on what the card is under its lock:
        one replacement wins, the others find the card replaced."""
        card_id, code = self._committed_member(40)
        outcomes = self._run_parallel(
            [{"idempotency_key": f"conc-rep-{i}"} for i in range(6)],
            "replace_card",
            args={"code": code},
        )
        statuses = sorted(status for status, _payload in outcomes)
        self.assertEqual(statuses, [201] + [409] * 5, outcomes)
        self.assertEqual(
            {p["error"]["code"] for s, p in outcomes if s == 409}, {"card_not_active"}
        )
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT COUNT(*), SUM(points) FROM loyalty_card WHERE replaces_id = %s",
                [card_id],
            )
            self.assertEqual(cr.fetchone(), (1, 40.0))
