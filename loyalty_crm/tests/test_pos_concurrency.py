"""Tills racing on real PostgreSQL: separate cursors in separate threads.

These tests commit on purpose (the other cursors must see the data) and remove
what they committed in the cleanup.
"""

import random
import time
import uuid as uuid_lib

from psycopg2 import IntegrityError, OperationalError

from odoo import api
from odoo.api import Transaction
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.service.model import (
    MAX_TRIES_ON_CONCURRENCY_FAILURE,
    PG_CONCURRENCY_ERRORS_TO_RETRY,
)
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import mute_logger

from .concurrency import run_together
from .pos_common import open_shop, order_payload


@tagged("post_install", "-at_install")
class TestPosConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        self.ids = {}
        self.addCleanup(self._cleanup)
        phone = "+7916" + "".join(random.choice("0123456789") for _i in range(7))
        with self.registry.cursor() as cr:
            env = self._env(cr)
            admin = env.ref("base.user_admin")
            env = env(user=admin)
            partner = env["res.partner"].create(
                {"name": "Racing member", "phone": phone}
            )
            self.ids["partner"] = partner.id
            cr.commit()  # pylint: disable=invalid-commit
            program = env["loyalty.program"]._get_bonus_program(env.company)
            program.rule_ids = [
                (5, 0, 0),
                (0, 0, env.company._loyalty_bonus_rule_values()),
            ]
            card = partner._loyalty_enrol(program=program)
            env["loyalty.ledger"]._post(card, 100, "adjustment", reason="setup")
            config, session = open_shop(env, "Racing till", admin)
            product = env["product.product"].create(
                {"name": "Racing jacket", "list_price": 1000, "taxes_id": [(5, 0, 0)]}
            )
            self.ids.update(
                card=card.id,
                config=config.id,
                session=session.id,
                product=product.id,
                user=admin.id,
            )
            cr.commit()  # pylint: disable=invalid-commit

    def _env(self, cr, uid=1):
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, uid, {})

    def _cleanup(self):
        with self.registry.cursor() as cr:
            card = self.ids.get("card") or 0
            cr.execute(
                "DELETE FROM pos_payment WHERE session_id = %s",
                [self.ids.get("session")],
            )
            cr.execute(
                "DELETE FROM pos_order_line WHERE order_id IN (SELECT id FROM pos_order"
                " WHERE session_id = %s)",
                [self.ids.get("session")],
            )
            cr.execute(
                "DELETE FROM pos_order WHERE session_id = %s", [self.ids.get("session")]
            )
            cr.execute("DELETE FROM loyalty_ledger WHERE card_id = %s", [card])
            cr.execute("DELETE FROM loyalty_card WHERE id = %s", [card])
            cr.execute(
                "DELETE FROM loyalty_consent WHERE partner_id = %s",
                [self.ids.get("partner")],
            )
            cr.execute(
                "UPDATE pos_session SET state = 'closed' WHERE id = %s",
                [self.ids.get("session")],
            )
            cr.execute(
                "UPDATE pos_config SET active = FALSE WHERE id = %s",
                [self.ids.get("config")],
            )
            cr.execute(
                "UPDATE res_partner SET active = FALSE, loyalty_phone = NULL, "
                "loyalty_referral_code = NULL, loyalty_card_id = NULL WHERE id = %s",
                [self.ids.get("partner")],
            )

    @staticmethod
    def _retrying(work, env):
        for _attempt in range(MAX_TRIES_ON_CONCURRENCY_FAILURE * 4):
            try:
                result = work(env)
                env.flush_all()
                env.cr.commit()  # pylint: disable=invalid-commit
                return result or "ok"
            except (UserError, IntegrityError) as error:
                env.cr.rollback()
                return error
            except OperationalError as error:
                env.cr.rollback()
                env.clear()
                if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                    raise
                time.sleep(random.uniform(0, 0.05))
        return "gave up"

    @mute_logger("odoo.sql_db", "odoo.addons.point_of_sale.models.pos_order")
    def _run_parallel(self, works):
        jobs = [lambda env, work=work: self._retrying(work, env) for work in works]
        return run_together(
            self.registry, jobs, lambda cr: self._env(cr, self.ids["user"])
        )

    def _card(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT points FROM loyalty_card WHERE id = %s", [self.ids["card"]]
            )
            points = cr.fetchone()[0]
            cr.execute(
                "SELECT entry_type, state, points FROM loyalty_ledger"
                " WHERE card_id = %s ORDER BY id",
                [self.ids["card"]],
            )
            return points, cr.fetchall()

    def test_same_order_synced_from_parallel_cursors_earns_once(self):
        with self.registry.cursor() as cr:
            env = self._env(cr, self.ids["user"])
            payload = order_payload(
                env["pos.session"].browse(self.ids["session"]),
                [(env["product.product"].browse(self.ids["product"]), 1, 1000)],
                env["res.partner"].browse(self.ids["partner"]),
            )

        def sync(env):
            env["pos.order"].sync_from_ui([dict(payload, lines=list(payload["lines"]))])

        outcomes = self._run_parallel([sync] * 4)
        self.assertEqual(outcomes.count("ok"), 1, outcomes)
        # the tills that lost the race send the order again later
        outcomes = self._run_parallel([sync] * 2)
        self.assertEqual(outcomes, ["ok", "ok"])
        points, entries = self._card()
        self.assertEqual(points, 150)
        self.assertEqual(
            entries, [("adjustment", "available", 100), ("accrual", "available", 50)]
        )

    def test_two_tills_reserving_the_same_points_in_parallel(self):
        def reserve(env):
            answer = (
                env["pos.config"]
                .browse(self.ids["config"])
                .loyalty_crm_reserve(
                    str(uuid_lib.uuid4()),
                    self.ids["partner"],
                    80,
                    1000,
                    {
                        "card": env["res.partner"]
                        .browse(self.ids["partner"])
                        .loyalty_card_code
                    },
                )
            )
            return "ok" if answer["ok"] else answer["message"]

        outcomes = self._run_parallel([reserve] * 2)
        self.assertEqual(outcomes.count("ok"), 1, outcomes)
        refusal = next(o for o in outcomes if o != "ok")
        self.assertIn("cannot be taken", refusal)
        points, entries = self._card()
        self.assertEqual(points, 20)
        self.assertEqual(
            entries, [("adjustment", "available", 100), ("redemption", "reserved", -80)]
        )
