"""Two campaign crons at once, on separate cursors: one message per occurrence.

This test commits on purpose (each cron's cursor must see the other's rows);
its data is removed again in the cleanup.
"""

import random
import time
from datetime import timedelta

from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api, fields
from odoo.api import Transaction
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
class TestCampaignConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def _env(self, cr):
        # the test runner holds the registry lock: give the cursor its
        # transaction ourselves (as tests/test_concurrency.py does)
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def setUp(self):
        super().setUp()
        self.partner_id = self.campaign_id = None
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            if self.campaign_id:
                cr.execute(
                    "SELECT id, utm_campaign_id FROM loyalty_campaign WHERE id = %s",
                    [self.campaign_id],
                )
                _id, utm_id = cr.fetchone()
                cr.execute(
                    "SELECT id FROM mailing_mailing WHERE loyalty_campaign_id = %s",
                    [self.campaign_id],
                )
                mailing_ids = tuple(r[0] for r in cr.fetchall()) or (0,)
                cr.execute(
                    "SELECT mail_message_id FROM mail_mail WHERE mailing_id IN %s",
                    [mailing_ids],
                )
                message_ids = tuple(r[0] for r in cr.fetchall()) or (0,)
                cr.execute(
                    "DELETE FROM loyalty_campaign_occurrence WHERE campaign_id = %s",
                    [self.campaign_id],
                )
                cr.execute(
                    "DELETE FROM mailing_trace WHERE mass_mailing_id IN %s",
                    [mailing_ids],
                )
                cr.execute(
                    "DELETE FROM mail_mail WHERE mailing_id IN %s", [mailing_ids]
                )
                cr.execute("DELETE FROM mail_message WHERE id IN %s", [message_ids])
                cr.execute("DELETE FROM mailing_mailing WHERE id IN %s", [mailing_ids])
                cr.execute(
                    "DELETE FROM loyalty_campaign WHERE id = %s", [self.campaign_id]
                )
                cr.execute("DELETE FROM utm_campaign WHERE id = %s", [utm_id])
            if self.partner_id:
                delete_members(cr, [self.partner_id])

    def _setup(self):
        phone = "+7916" + "".join(random.choice("0123456789") for _i in range(7))
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env.company.loyalty_required_field_ids = False
            partner = env["res.partner"].create(
                {
                    "name": f"Concurrent Fan {phone}",
                    "phone": phone,
                    "email": f"fan{phone[1:]}@example.com",
                }
            )
            self.partner_id = partner.id
            cr.commit()  # pylint: disable=invalid-commit
            partner._loyalty_enrol(consent=True)
            campaign = env["loyalty.campaign"].create(
                {
                    "name": "Concurrent welcome",
                    "channel": "email",
                    "launch_type": "trigger",
                    "trigger": "welcome",
                    "control_percent": 0,
                    "segment_id": env["loyalty.segment"]
                    .create(
                        {
                            "name": "Concurrent fan",
                            "extra_domain": repr([("id", "=", partner.id)]),
                        }
                    )
                    .id,
                    "mail_template_id": env.ref(
                        "loyalty_crm.mail_template_campaign_welcome"
                    ).id,
                }
            )
            self.campaign_id = campaign.id
            campaign.action_launch()
            campaign.trigger_since = fields.Datetime.now() - timedelta(hours=1)
            cr.commit()  # pylint: disable=invalid-commit
            self.segment_id = campaign.segment_id.id

    def _run_cron(self, env):
        for _attempt in range(MAX_TRIES_ON_CONCURRENCY_FAILURE * 4):
            try:
                campaign = env["loyalty.campaign"].browse(self.campaign_id)
                campaign._insert_occurrences(campaign._trigger_pairs())
                campaign._process_due()
                env.flush_all()
                env.cr.commit()  # pylint: disable=invalid-commit
                return "ok"
            except OperationalError as error:
                env.cr.rollback()
                env.clear()
                if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                    raise
                time.sleep(random.uniform(0, 0.05))
        return "gave up"

    @mute_logger("odoo.sql_db", "odoo.addons.mass_mailing.models.mailing")
    def test_parallel_crons_send_one_message(self):
        self._setup()
        self.addCleanup(self._drop_segment)
        outcomes = run_together(self.registry, [self._run_cron] * 4, self._env)
        self.assertEqual(outcomes, ["ok"] * 4)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT state, COUNT(*) FROM loyalty_campaign_occurrence "
                "WHERE campaign_id = %s GROUP BY state",
                [self.campaign_id],
            )
            self.assertEqual(cr.fetchall(), [("sent", 1)])
            cr.execute(
                "SELECT COUNT(*) FROM mail_mail m JOIN mailing_mailing g "
                "ON g.id = m.mailing_id WHERE g.loyalty_campaign_id = %s",
                [self.campaign_id],
            )
            self.assertEqual(cr.fetchone()[0], 1)
            cr.execute(
                "SELECT COUNT(*) FROM mailing_trace t JOIN mailing_mailing g "
                "ON g.id = t.mass_mailing_id WHERE g.loyalty_campaign_id = %s",
                [self.campaign_id],
            )
            self.assertEqual(cr.fetchone()[0], 1)

    def _drop_segment(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM loyalty_segment WHERE id = %s", [self.segment_id])
