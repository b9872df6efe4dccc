"""A campaign run that crashes anywhere is finished by the next run, exactly once.

The cron runs in its own thread and cursor, as in production: there Odoo's mass
mailing commits once it has queued a mailing (it does not in the test thread),
so these tests commit on purpose; their data is removed in the cleanup. The
crash is forced by replacing one step of the engine with one that raises.
"""

import random
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import mute_logger

from .concurrency import delete_members, run_together

REWARD = 50.0


class Crash(Exception):
    """The forced failure (a worker killed, a lost connection...)."""


@tagged("post_install", "-at_install")
class TestCampaignCrash(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        cls.Campaign = cls.registry["loyalty.campaign"]

    def _env(self, cr):
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def setUp(self):
        super().setUp()
        self.partner_ids, self.campaign_id, self.segment_id = [], None, None
        self.activated_langs = []
        self.addCleanup(self._cleanup)

    # ------------------------------------------------------------ data
    def _setup(self, langs):
        """Committed: one member per language, a one-off email campaign to them
        with a reward of 50 points, scheduled now."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env.company.loyalty_required_field_ids = False
            env.company.loyalty_campaign_cap = 0
            for lang in set(langs) - {"en_US"}:
                if not env["res.lang"].search([("code", "=", lang)]):
                    env["res.lang"]._activate_lang(lang)
                    self.activated_langs.append(lang)
            cr.commit()  # pylint: disable=invalid-commit
            for n, lang in enumerate(langs):
                phone = "+7916" + "".join(
                    random.choice("0123456789") for _i in range(7)
                )
                partner = env["res.partner"].create(
                    {
                        "name": f"Crash Fan {lang}",
                        "phone": phone,
                        "email": f"crash{n}@example.com",
                        "lang": lang,
                    }
                )
                self.partner_ids.append(partner.id)
                cr.commit()  # pylint: disable=invalid-commit
                partner._loyalty_enrol(consent=True)
                cr.commit()  # pylint: disable=invalid-commit
            segment = env["loyalty.segment"].create(
                {
                    "name": "Crash fans",
                    "extra_domain": repr([("id", "in", self.partner_ids)]),
                }
            )
            self.segment_id = segment.id
            campaign = env["loyalty.campaign"].create(
                {
                    "name": "Crash one-off",
                    "channel": "email",
                    "launch_type": "oneoff",
                    "control_percent": 0,
                    "segment_id": segment.id,
                    "reward_type": "points",
                    "reward_points": REWARD,
                    "mail_template_id": env.ref(
                        "loyalty_crm.mail_template_campaign_oneoff"
                    ).id,
                }
            )
            self.campaign_id = campaign.id
            campaign.action_launch()

    def _deactivate_lang(self, lang):
        with self.registry.cursor() as cr:
            self._env(cr)["res.lang"].with_context(active_test=False).search(
                [("code", "=", lang)]
            ).active = False

    def _cleanup(self):
        with self.registry.cursor() as cr:
            if self.campaign_id:
                cr.execute(
                    "SELECT utm_campaign_id FROM loyalty_campaign WHERE id = %s",
                    [self.campaign_id],
                )
                utm_id = cr.fetchone()[0]
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
                for query, args in (
                    (
                        "DELETE FROM loyalty_campaign_occurrence "
                        "WHERE campaign_id = %s",
                        [self.campaign_id],
                    ),
                    (
                        "DELETE FROM mailing_trace WHERE mass_mailing_id IN %s",
                        [mailing_ids],
                    ),
                    ("DELETE FROM mail_mail WHERE mailing_id IN %s", [mailing_ids]),
                    ("DELETE FROM mail_message WHERE id IN %s", [message_ids]),
                    ("DELETE FROM mailing_mailing WHERE id IN %s", [mailing_ids]),
                    ("DELETE FROM loyalty_campaign WHERE id = %s", [self.campaign_id]),
                    ("DELETE FROM utm_campaign WHERE id = %s", [utm_id or 0]),
                ):
                    cr.execute(query, args)
            if self.segment_id:
                cr.execute(
                    "DELETE FROM loyalty_segment WHERE id = %s", [self.segment_id]
                )
            delete_members(cr, self.partner_ids)
        for lang in self.activated_langs:
            self._deactivate_lang(lang)

    # ------------------------------------------------------------ runs
    def _run_cron(self):
        """One run of the campaign cron in its own thread and cursor (committed
        at the end, as Odoo's cron runner does); "crashed" when it raised."""

        def job(env):
            try:
                env["loyalty.campaign"]._cron_run_campaigns()
                env.cr.commit()  # pylint: disable=invalid-commit
                return "ok"
            except Crash:
                env.cr.rollback()
                return "crashed"

        return run_together(self.registry, [job], self._env)[0]

    def _members_state(self):
        """Per member: (occurrence states, mails queued, traces linked, campaign
        points on their card)."""
        with self.registry.cursor() as cr:
            result = {}
            for partner_id in self.partner_ids:
                cr.execute(
                    "SELECT state, trace_id IS NOT NULL, ledger_id IS NOT NULL "
                    "FROM loyalty_campaign_occurrence "
                    "WHERE campaign_id = %s AND partner_id = %s",
                    [self.campaign_id, partner_id],
                )
                occurrences = sorted(cr.fetchall())
                cr.execute(
                    "SELECT COUNT(*) FROM mail_mail m "
                    "JOIN mail_message mm ON mm.id = m.mail_message_id "
                    "JOIN mailing_mailing g ON g.id = m.mailing_id "
                    "WHERE g.loyalty_campaign_id = %s AND mm.res_id = %s",
                    [self.campaign_id, partner_id],
                )
                mails = cr.fetchone()[0]
                cr.execute(
                    "SELECT COALESCE(SUM(l.points), 0) FROM loyalty_ledger l "
                    "JOIN loyalty_card c ON c.id = l.card_id "
                    "WHERE c.partner_id = %s "
                    "AND l.res_model = 'loyalty.campaign.occurrence'",
                    [partner_id],
                )
                points = float(cr.fetchone()[0])
                result[partner_id] = (occurrences, mails, points)
            return result

    def _assert_done_once(self):
        done = ([("sent", True, True)], 1, REWARD)
        self.assertEqual(self._members_state(), dict.fromkeys(self.partner_ids, done))

    # ------------------------------------------------------------ tests
    @mute_logger("odoo.addons.mass_mailing.models.mailing")
    def test_crash_between_sending_and_rewarding(self):
        self._setup(["en_US"])
        with patch.object(self.Campaign, "_grant_rewards", side_effect=Crash("crash")):
            self.assertEqual(self._run_cron(), "crashed")
        self.assertEqual(self._run_cron(), "ok")
        self._assert_done_once()
        self.assertEqual(self._run_cron(), "ok")
        self._assert_done_once()

    @mute_logger("odoo.addons.mass_mailing.models.mailing")
    def test_crash_in_the_second_language_batch(self):
        self._setup(["en_US", "ru_RU"])
        original = self.Campaign._loyalty_mailing

        def crash_in_russian(campaign, lang):
            if lang == "ru_RU":
                raise Crash("crash")
            return original(campaign, lang)

        with patch.object(self.Campaign, "_loyalty_mailing", crash_in_russian):
            self.assertEqual(self._run_cron(), "crashed")
        english, russian = self.partner_ids
        outcome = self._members_state()
        # the English batch was committed whole, the Russian one not at all
        self.assertEqual(outcome[english], ([("sent", True, True)], 1, REWARD))
        self.assertEqual(outcome[russian][1:], (0, 0.0))
        self.assertEqual(self._run_cron(), "ok")
        self._assert_done_once()

    @mute_logger("odoo.addons.mass_mailing.models.mailing")
    def test_crash_right_after_the_mailing_committed(self):
        self._setup(["en_US"])
        original = self.Campaign._loyalty_link_traces
        calls = []

        def crash_after_commit(campaign, mailing):
            calls.append(mailing.id)
            if len(calls) > 1:  # the call after the mailing's commit
                raise Crash("crash")
            return original(campaign, mailing)

        with patch.object(self.Campaign, "_loyalty_link_traces", crash_after_commit):
            self.assertEqual(self._run_cron(), "crashed")
        self._assert_done_once()
        self.assertEqual(self._run_cron(), "ok")
        self._assert_done_once()
