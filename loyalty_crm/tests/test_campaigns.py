from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL

from .common import LoyaltyCase


class CampaignCase(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {
                "loyalty_campaign_cap": 0,
                "loyalty_quiet_start": 21,
                "loyalty_quiet_end": 9,
            }
        )
        cls.company.partner_id.tz = "Europe/Moscow"
        cls.Campaign = cls.env["loyalty.campaign"]
        cls.Occurrence = cls.env["loyalty.campaign.occurrence"]
        cls.product = cls.env["product.product"].create(
            {"name": "Dress", "list_price": 1000.0, "type": "consu"}
        )

    _phone_seq = 0

    @classmethod
    def _fan(cls, name, consent=True, email=True, **vals):
        cls._phone_seq += 1
        seq = cls._phone_seq
        partner = cls.env["res.partner"].create(
            dict(
                name=name,
                phone=f"+7 916 555-{seq // 100:02d}-{seq % 100:02d}",
                email=email and f"fan{cls._phone_seq}@example.com" or False,
                tz="Europe/Moscow",
                **vals,
            )
        )
        partner._loyalty_enrol(consent=consent)
        return partner

    def _campaign(self, trigger=None, channel="email", **vals):
        key = trigger or "oneoff"
        values = {
            "name": f"Campaign {key}",
            "channel": channel,
            "launch_type": "trigger" if trigger else "oneoff",
            "trigger": trigger,
            "control_percent": 0,
        }
        if channel == "email":
            values["mail_template_id"] = self.env.ref(
                f"loyalty_crm.mail_template_campaign_{key}"
            ).id
        else:
            values["sms_template_id"] = self.env.ref(
                f"loyalty_crm.sms_template_campaign_{key}"
            ).id
        values.update(vals)
        campaign = self.Campaign.create(values)
        campaign.action_launch()
        if not trigger and not vals.get("schedule_date"):
            self.assertEqual(campaign.state, "scheduled")
            self.assertFalse(campaign.occurrence_ids)  # sent by the cron
            self.Campaign._cron_run_campaigns()
        if trigger:
            # events of this test happened at the start of the transaction
            campaign.trigger_since = fields.Datetime.now() - timedelta(hours=1)
        return campaign

    def _mails(self, campaign):
        return self.env["mail.mail"].search(
            [("mailing_id", "in", campaign.mailing_ids.ids)]
        )

    def _sms(self, campaign):
        return self.env["sms.sms"].search(
            [("mailing_id", "in", campaign.mailing_ids.ids)]
        )

    def _order(self, partner, amount=1000.0, date=None):
        order = self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": 1,
                            "price_unit": amount,
                            "tax_id": [(5, 0, 0)],
                        },
                    )
                ],
            }
        )
        order.action_confirm()
        if date:
            order.date_order = date
        return order


@tagged("post_install", "-at_install")
class TestCampaignTriggers(CampaignCase):
    def test_welcome_once_even_when_the_cron_runs_twice(self):
        anna = self._fan("Анна Welcome", lang="en_US")
        campaign = self._campaign("welcome")
        self.Campaign._cron_run_campaigns()
        occurrence = campaign.occurrence_ids
        self.assertEqual(occurrence.partner_id, anna)
        self.assertEqual(occurrence.state, "sent")
        self.assertEqual(occurrence.occurrence_key, "welcome")
        mails = self._mails(campaign)
        self.assertEqual(len(mails), 1)
        self.assertEqual(mails.state, "outgoing")  # queued: sent after commit
        self.assertIn(anna.loyalty_card_code, mails.body_html)
        self.assertIn("Анна Welcome", mails.body_html)
        self.assertEqual(mails.mailing_trace_ids, occurrence.trace_id)
        self.assertEqual(occurrence.trace_id.res_id, anna.id)
        # a second run, and a retry of the same trigger, send nothing new
        self.Campaign._cron_run_campaigns()
        campaign._insert_occurrences(campaign._trigger_pairs())
        campaign._process_due()
        self.assertEqual(len(campaign.occurrence_ids), 1)
        self.assertEqual(len(self._mails(campaign)), 1)
        self.assertEqual(campaign.sent_count, 1)

    def test_each_trigger_fires_once_per_occurrence(self):
        today = fields.Date.context_today(self.Campaign)
        members = {}
        # birthday in 3 days
        members["birthday"] = self._fan(
            "Birthday Fan",
            loyalty_birthdate=fields.Date.add(today, days=3).replace(year=1990),
        )
        # 20 points expiring in 5 days
        fan = self._fan("Expiring Fan")
        self.Ledger._post(
            fan.loyalty_card_id,
            20,
            "bonus",
            expiry_date=fields.Date.add(today, days=5),
        )
        members["expiring"] = fan
        # tier changes
        tier = self.env["loyalty.tier"].create(
            {"program_id": self.program.id, "name": "Gold", "min_spend": 1e9}
        )
        History = self.env["loyalty.tier.history"].sudo()
        members["tier_up"] = self._fan("Upgraded Fan")
        History.create(
            {
                "partner_id": members["tier_up"].id,
                "new_tier_id": tier.id,
                "direction": "up",
            }
        )
        members["tier_down"] = self._fan("Downgraded Fan")
        History.create(
            {
                "partner_id": members["tier_down"].id,
                "old_tier_id": tier.id,
                "direction": "down",
            }
        )
        # no purchase for 100 days
        members["winback"] = self._fan("Sleeping Fan")
        self._order(
            members["winback"], date=fields.Datetime.now() - timedelta(days=100)
        )
        # bought today (after purchase, N = 0)
        members["after_purchase"] = self._fan("Buying Fan")
        self._order(members["after_purchase"])
        # a lost card replaced
        members["card_replaced"] = self._fan("Careless Fan")
        members["card_replaced"].loyalty_card_id.with_user(
            self.cashier
        )._loyalty_replace("Lost in the shop")
        # balance reached 400
        members["balance"] = self._fan("Rich Fan")
        self._credit(members["balance"], 500)
        self.env["res.partner"]._cron_compute_rfm()
        settings = {
            "birthday": {"trigger_days": 3},
            "expiring": {"trigger_days": 7},
            "winback": {"trigger_days": 90},
            "after_purchase": {"trigger_days": 0},
            "balance": {"trigger_amount": 400},
        }
        campaigns = {
            trigger: self._campaign(trigger, **settings.get(trigger, {}))
            for trigger in members
        }
        self.Campaign._cron_run_campaigns()
        self.Campaign._cron_run_campaigns()
        for trigger, member in members.items():
            with self.subTest(trigger=trigger):
                campaign = campaigns[trigger]
                self.assertEqual(campaign.occurrence_ids.partner_id, member)
                self.assertEqual(campaign.occurrence_ids.state, "sent")
                self.assertEqual(len(self._mails(campaign)), 1)
                self.assertEqual(
                    self._mails(campaign).mailing_trace_ids.res_id, member.id
                )
        self.assertEqual(
            campaigns["birthday"].occurrence_ids.occurrence_key,
            f"birthday/{fields.Date.add(today, days=3).year}",
        )
        # a new occurrence is a new message: the member's next purchase day
        self._order(members["winback"], date=fields.Datetime.now() - timedelta(days=95))
        self.env["res.partner"]._cron_compute_rfm()
        self.Campaign._cron_run_campaigns()
        self.assertEqual(len(campaigns["winback"].occurrence_ids), 2)
        self.assertEqual(len(self._mails(campaigns["winback"])), 2)

    def test_consent_blacklist_and_address(self):
        ok = self._fan("Consenting Fan")
        refused = self._fan("Refusing Fan", consent=False)
        blacklisted = self._fan("Blacklisted Fan")
        self.env["mail.blacklist"].sudo()._add(blacklisted.email)
        no_email = self._fan("Offline Fan", email=False)
        silent = self._fan("Silent Fan")
        silent.loyalty_channel_ids = self.env.ref("loyalty_crm.channel_none")
        email_out = self._fan("No Email Fan")
        self.env["loyalty.consent"]._record(
            email_out, False, "backoffice", channel="email"
        )
        campaign = self._campaign("welcome")
        self.Campaign._cron_run_campaigns()
        result = {
            occ.partner_id: (occ.state, occ.skip_reason)
            for occ in campaign.occurrence_ids
        }
        self.assertEqual(result[ok], ("sent", False))
        self.assertEqual(result[refused], ("skipped", "no_consent"))
        self.assertEqual(result[silent], ("skipped", "no_consent"))
        self.assertEqual(result[email_out], ("skipped", "no_consent"))
        self.assertEqual(result[blacklisted], ("skipped", "blacklist"))
        self.assertEqual(result[no_email], ("skipped", "no_address"))
        mails = self._mails(campaign)
        self.assertEqual(mails.mailing_trace_ids.res_id, ok.id)
        self.assertEqual(campaign.skipped_count, 5)

    def test_sms_quiet_hours_postponed_not_dropped(self):
        fan = self._fan("Night Fan")
        blocked = self._fan("Blocked Phone Fan")
        self.env["phone.blacklist"].sudo()._add([blocked.phone_sanitized])
        self._credit(fan, 500)
        self._credit(blocked, 500)
        # 23:30 in Moscow (UTC+3)
        with freeze_time("2026-03-10 20:30:00"):
            campaign = self._campaign("balance", channel="sms", trigger_amount=400)
            self.Campaign._cron_run_campaigns()
            occurrence = campaign.occurrence_ids.filtered(lambda o: o.partner_id == fan)
            self.assertEqual(occurrence.state, "postponed")
            # to 9:00 the next morning, Moscow time
            self.assertEqual(occurrence.scheduled_at, datetime(2026, 3, 11, 6, 0))
            self.assertFalse(self._sms(campaign))
            other = campaign.occurrence_ids - occurrence
            self.assertEqual((other.state, other.skip_reason), ("skipped", "blacklist"))
        with freeze_time("2026-03-11 05:59:00"):
            self.Campaign._cron_run_campaigns()
            self.assertEqual(occurrence.state, "postponed")
            self.assertFalse(self._sms(campaign))
        with freeze_time("2026-03-11 06:01:00"):
            self.Campaign._cron_run_campaigns()
            self.Campaign._cron_run_campaigns()
        self.assertEqual(occurrence.state, "sent")
        sms = self._sms(campaign)
        self.assertEqual(len(sms), 1)
        self.assertEqual(sms.number, fan.phone_sanitized)
        self.assertEqual(sms.state, "outgoing")  # Odoo's SMS queue sends it
        self.assertIn("Night Fan", sms.body)
        self.assertIn("500", sms.body)
        self.assertEqual(sms.mailing_trace_ids, occurrence.trace_id)

    def test_stopped_campaign_sends_nothing_more(self):
        fan = self._fan("Stopped Fan")
        self._credit(fan, 500)
        with freeze_time("2026-03-10 20:30:00"):
            campaign = self._campaign("balance", channel="sms", trigger_amount=400)
            self.Campaign._cron_run_campaigns()
            self.assertEqual(campaign.occurrence_ids.state, "postponed")
            campaign.action_stop()
        with freeze_time("2026-03-11 07:00:00"):
            self.Campaign._cron_run_campaigns()
            self.assertEqual(campaign.occurrence_ids.state, "postponed")
            self.assertFalse(self._sms(campaign))
            campaign.action_launch()  # resumed: the postponed message goes
            self.Campaign._cron_run_campaigns()
        self.assertEqual(campaign.occurrence_ids.state, "sent")
        self.assertEqual(len(self._sms(campaign)), 1)

    def test_frequency_cap(self):
        self.company.write({"loyalty_campaign_cap": 1, "loyalty_campaign_cap_days": 7})
        fan = self._fan("Popular Fan")
        self._credit(fan, 500)
        welcome = self._campaign("welcome")
        balance = self._campaign("balance", trigger_amount=100)
        self.Campaign._cron_run_campaigns()
        states = (welcome | balance).occurrence_ids.mapped(
            lambda o: (o.state, o.skip_reason)
        )
        self.assertEqual(sorted(states), [("sent", False), ("skipped", "cap")])
        self.assertEqual(len(self._mails(welcome)) + len(self._mails(balance)), 1)

    def test_reward_points_once_per_occurrence(self):
        fan = self._fan("Rewarded Fan")
        before = fan.loyalty_points
        campaign = self._campaign("welcome", reward_type="points", reward_points=50)
        self.Campaign._cron_run_campaigns()
        self.Campaign._cron_run_campaigns()
        occurrence = campaign.occurrence_ids
        self.assertEqual(occurrence.ledger_id.points, 50)
        self.assertEqual(
            occurrence.ledger_id.idempotency_key,
            f"loyalty.campaign.occurrence/{occurrence.id}",
        )
        fan.invalidate_recordset()
        self.assertEqual(fan.loyalty_points, before + 50)
        # replaying the reward posts nothing new
        campaign._grant_rewards(occurrence)
        fan.invalidate_recordset()
        self.assertEqual(fan.loyalty_points, before + 50)

    def test_reward_coupon_once_per_occurrence(self):
        fan = self._fan("Coupon Fan")
        program = self.env["loyalty.program"].create(
            {
                "name": "Campaign coupons",
                "program_type": "coupons",
                "reward_ids": [(0, 0, {"reward_type": "discount", "discount": 10.0})],
            }
        )
        campaign = self._campaign(
            "welcome", reward_type="coupon", coupon_program_id=program.id
        )
        self.Campaign._cron_run_campaigns()
        self.Campaign._cron_run_campaigns()
        coupon = campaign.occurrence_ids.coupon_id
        self.assertEqual(coupon.program_id, program)
        self.assertEqual(coupon.partner_id, fan)
        self.assertEqual(
            self.env["loyalty.card"].search_count([("program_id", "=", program.id)]), 1
        )

    def test_control_group_receives_nothing(self):
        fan = self._fan("Control Fan")
        campaign = self._campaign(
            "welcome", control_percent=100, reward_type="points", reward_points=50
        )
        points = fan.loyalty_points
        self.Campaign._cron_run_campaigns()
        self.assertEqual(campaign.occurrence_ids.state, "control")
        self.assertTrue(campaign.occurrence_ids.is_control)
        self.assertFalse(self._mails(campaign))
        self.assertFalse(
            self.env["mail.mail"].search(
                [("mailing_id", "!=", False), ("recipient_ids", "in", fan.ids)]
            )
        )
        self.assertFalse(campaign.occurrence_ids.ledger_id)
        self.assertEqual(fan.loyalty_points, points)
        self.assertEqual(campaign.control_count, 1)
        self.assertEqual(campaign.sent_count, 0)

    def test_refusals(self):
        campaign = self.Campaign.create(
            {"name": "No template", "channel": "email", "control_percent": 0}
        )
        with self.assertRaises(UserError) as error:
            campaign.action_launch()
        self.assertIn("Pick a template", str(error.exception))
        self.assertEqual(campaign.state, "draft")
        self.assertFalse(campaign.occurrence_ids)
        refusals = [
            ({"name": "No trigger", "launch_type": "trigger"}, "Choose the trigger"),
            ({"name": "Zero", "reward_type": "points"}, "must be positive"),
            ({"name": "No coupons", "reward_type": "coupon"}, "coupon program"),
        ]
        for vals, message in refusals:
            with self.assertRaises(ValidationError) as error:
                self.Campaign.create(vals)
            self.assertIn(message, str(error.exception))
        self.assertFalse(
            self.Campaign.search([("name", "in", ("No trigger", "Zero", "No coupons"))])
        )
        for vals, message in [
            (
                {"name": "Broken", "extra_domain": "[('no_such_field', '=', 1)]"},
                "not a valid domain",
            ),
            ({"name": "Empty", "age_min": 50, "age_max": 20}, "age range"),
        ]:
            with self.assertRaises(ValidationError) as error:
                self.env["loyalty.segment"].create(vals)
            self.assertIn(message, str(error.exception))
        self.assertFalse(
            self.env["loyalty.segment"].search([("name", "in", ("Broken", "Empty"))])
        )


@tagged("post_install", "-at_install")
class TestCampaignResults(CampaignCase):
    def test_oneoff_results_bounce_and_conversion(self):
        buyer = self._fan("Buyer Fan")
        idle = self._fan("Idle Fan")
        segment = self.env["loyalty.segment"].create(
            {
                "name": "Two fans",
                "extra_domain": repr([("id", "in", (buyer | idle).ids)]),
            }
        )
        self.assertEqual(segment.member_count, 2)
        # bought before the message: does not count
        self._order(buyer, amount=300, date=fields.Datetime.now() - timedelta(days=2))
        campaign = self._campaign(segment_id=segment.id, conversion_days=30)
        self.assertEqual(campaign.state, "done")
        self.assertEqual(campaign.occurrence_ids.partner_id, buyer | idle)
        self.assertEqual(len(self._mails(campaign)), 2)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.converted_count, 0)
        # bought after the message: counts, with its revenue
        self._order(buyer, amount=700)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.converted_count, 1)
        self.assertAlmostEqual(campaign.converted_revenue, 700.0)
        self.assertAlmostEqual(campaign.conversion_rate, 50.0)
        # a bounce, through Odoo's own trace processing
        trace = campaign.occurrence_ids.filtered(
            lambda o: o.partner_id == idle
        ).trace_id
        trace.set_bounced()
        campaign.invalidate_recordset()
        self.assertEqual(campaign.bounced_count, 1)
        # opened and clicked
        other = campaign.occurrence_ids.filtered(
            lambda o: o.partner_id == buyer
        ).trace_id
        other.set_opened()
        other.set_clicked()
        campaign.invalidate_recordset()
        self.assertEqual((campaign.opened_count, campaign.clicked_count), (1, 1))
        # relaunching is refused
        with self.assertRaisesRegex(UserError, "already launched"):
            campaign.action_launch()

    def test_control_conversion(self):
        fan = self._fan("Held Out Fan")
        segment = self.env["loyalty.segment"].create(
            {"name": "One fan", "extra_domain": repr([("id", "=", fan.id)])}
        )
        campaign = self._campaign(segment_id=segment.id, control_percent=100)
        self._order(fan, amount=400)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.control_count, 1)
        self.assertEqual(campaign.control_converted_count, 1)
        self.assertAlmostEqual(campaign.control_revenue, 400.0)
        self.assertEqual(campaign.converted_count, 0)
        self.assertFalse(self._mails(campaign))

    def test_scheduled_oneoff(self):
        fan = self._fan("Scheduled Fan")
        campaign = self._campaign(
            schedule_date=fields.Datetime.now() + timedelta(days=1),
            segment_id=self.env["loyalty.segment"]
            .create({"name": "S", "extra_domain": repr([("id", "=", fan.id)])})
            .id,
        )
        # the schedule was set before launching
        self.assertEqual(campaign.state, "scheduled")
        self.Campaign._cron_run_campaigns()
        self.assertFalse(campaign.occurrence_ids)
        with freeze_time(fields.Datetime.now() + timedelta(days=1, minutes=1)):
            self.Campaign._cron_run_campaigns()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(campaign.occurrence_ids.partner_id, fan)
        self.assertEqual(len(self._mails(campaign)), 1)


@tagged("post_install", "-at_install")
class TestSegmentsAndAcquisition(CampaignCase):
    def test_segment_filters_and_mailing_audience(self):
        women = self._fan(
            "Woman Fan",
            loyalty_gender="female",
            loyalty_birthdate=fields.Date.today().replace(year=1990),
            city="Москва",
        )
        man = self._fan("Man Fan", loyalty_gender="male", city="Казань")
        self._order(women, amount=5000)
        self._order(women, amount=3000)
        self._order(man, amount=100, date=fields.Datetime.now() - timedelta(days=400))
        self.env["res.partner"]._cron_compute_rfm()
        self.assertEqual(women.loyalty_orders_30d, 2)
        self.assertEqual(women.loyalty_rfm_recency, 5)
        self.assertEqual(women.loyalty_preferred_categ_ids, self.product.categ_id)
        Segment = self.env["loyalty.segment"]
        fans = [("id", "in", (women | man).ids)]

        def members(**vals):
            segment = Segment.create(dict(name="S", extra_domain=repr(fans), **vals))
            return self.env["res.partner"].search(segment._build_domain())

        self.assertEqual(members(gender="female"), women)
        self.assertEqual(members(age_min=30, age_max=40), women)
        self.assertEqual(members(city="Каз"), man)
        self.assertEqual(members(rfm_monetary_min="5"), women)
        self.assertEqual(members(bought_within_days=30), women)
        self.assertEqual(members(inactive_days=100), man)
        Partner = self.env["res.partner"]
        self.assertEqual(
            Partner.search(fans + [("loyalty_days_since_purchase", ">=", 100)]), man
        )
        with self.assertRaisesRegex(UserError, "whole number of days"):
            Partner.search([("loyalty_days_since_purchase", ">=", "many")])
        self.assertEqual(members(purchase_count_min=2, purchase_period="30"), women)
        self.assertEqual(members(category_ids=self.product.categ_id.ids), women)
        self.assertEqual(members(balance_min=1), women | man)  # welcome points
        segment = Segment.create(
            {"name": "Women", "gender": "female", "extra_domain": repr(fans)}
        )
        self.assertEqual(segment.member_count, 1)
        action = segment.action_create_mailing()
        mailing = self.env["mailing.mailing"].browse(action["res_id"])
        self.assertEqual(mailing.mailing_model_real, "res.partner")
        self.assertEqual(mailing._get_recipients(), women.ids)
        # campaign participation
        campaign = self._campaign(segment_id=segment.id)
        self.assertEqual(
            members(campaign_ids=campaign.ids, campaign_participation="received"),
            women,
        )
        self.assertEqual(
            members(campaign_ids=campaign.ids, campaign_participation="not_received"),
            man,
        )

    def test_acquisition_channel_recorded(self):
        referrer = self._fan("Referrer Fan")
        friend = self.env["res.partner"].create(
            {"name": "Friend Fan", "phone": "+7 916 777-00-01"}
        )
        friend._loyalty_enrol(referral_code=referrer.loyalty_referral_code)
        self.assertEqual(
            friend.loyalty_source_id, self.env.ref("loyalty_crm.utm_source_referral")
        )
        self.assertEqual(
            friend.loyalty_medium_id, self.env.ref("loyalty_crm.utm_medium_referral")
        )
        shop = self.env["res.partner"].create(
            {"name": "Shop Fan", "phone": "+7 916 777-00-02"}
        )
        shop._loyalty_enrol(source="pos")
        self.assertEqual(
            shop.loyalty_source_id, self.env.ref("loyalty_crm.utm_source_store")
        )
        self.assertEqual(
            referrer.loyalty_source_id,
            self.env.ref("loyalty_crm.utm_source_backoffice"),
        )
        # a channel given at enrolment is kept
        social = self.env["utm.source"].create({"name": "VK"})
        given = self.env["res.partner"].create(
            {
                "name": "VK Fan",
                "phone": "+7 916 777-00-03",
                "loyalty_source_id": social.id,
            }
        )
        given._loyalty_enrol(source="portal")
        self.assertEqual(given.loyalty_source_id, social)
        self._order(friend, amount=1200)
        self.env.flush_all()
        Report = self.env["loyalty.acquisition.report"]
        row = Report.search([("partner_id", "=", friend.id)])
        self.assertEqual(row.source_id.name, "Referral")
        self.assertAlmostEqual(row.spend_90d, 1200.0)
        self.assertEqual(
            (row.orders_90d, row.retained_count, row.member_count), (1, 0, 1)
        )
        groups = Report._read_group(
            [("partner_id", "in", (friend | shop | given).ids)],
            ["source_id"],
            ["member_count:sum"],
        )
        self.assertEqual(len(groups), 3)


@tagged("post_install", "-at_install")
class TestCampaignScale(CampaignCase):
    def _bulk_members(self, count):
        """``count`` members written in SQL (a copy of an existing member)."""
        self.env.flush_all()
        columns = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'res_partner' AND column_name NOT IN "
                    "('id', 'loyalty_phone', 'loyalty_referral_code', "
                    "'loyalty_card_id', 'name', 'complete_name', "
                    "'loyalty_marketing_consent', 'email', 'email_normalized', "
                    "'phone', 'phone_sanitized')"
                )
            )
        ]
        cols = SQL(", ").join(SQL.identifier(col) for col in columns)
        partner_ids = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    """
                INSERT INTO res_partner (name, complete_name, email,
                                         email_normalized, %(cols)s)
                SELECT 'Bulk ' || n, 'Bulk ' || n, 'bulk' || n || '@example.com',
                       'bulk' || n || '@example.com', %(cols)s
                  FROM res_partner, generate_series(1, %(count)s) AS n
                 WHERE res_partner.id = %(template)s
             RETURNING id
                """,
                    cols=cols,
                    count=count,
                    template=self.template.id,
                )
            )
        ]
        # and the template's purchase statistics, if it has any
        stats_columns = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'loyalty_member_stats' "
                    "AND column_name NOT IN ('id', 'partner_id')"
                )
            )
        ]
        stats_cols = SQL(", ").join(SQL.identifier(col) for col in stats_columns)
        self.env.execute_query(
            SQL(
                """
                INSERT INTO loyalty_member_stats (partner_id, %(cols)s)
                SELECT p.id, %(cols)s
                  FROM loyalty_member_stats, unnest(%(partners)s::int[]) AS p(id)
                 WHERE loyalty_member_stats.partner_id = %(template)s
                """,
                cols=stats_cols,
                partners=partner_ids,
                template=self.template.id,
            )
        )
        # each with a bonus card of the company (a copy of the template's)
        card_columns = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'loyalty_card' AND column_name NOT IN "
                    "('id', 'partner_id', 'code', 'points', 'replaces_id', "
                    "'replaced_by_id')"
                )
            )
        ]
        card_cols = SQL(", ").join(SQL.identifier(col) for col in card_columns)
        self.env.execute_query(
            SQL(
                """
                INSERT INTO loyalty_card (partner_id, code, points, %(cols)s)
                SELECT p.id, 'bulk' || p.id, 0, %(cols)s
                  FROM loyalty_card, unnest(%(partners)s::int[]) AS p(id)
                 WHERE loyalty_card.id = %(template)s
                """,
                cols=card_cols,
                partners=partner_ids,
                template=self.template.loyalty_card_id.id,
            )
        )

    def test_trigger_cron_queries_do_not_depend_on_the_base(self):
        today = fields.Date.context_today(self.Campaign)
        long_ago = fields.Date.subtract(today, days=200)
        self.template = self._fan("Template Fan", consent=False)
        fans = [self._fan(f"Due Fan {n}") for n in range(3)]
        # their last purchase long ago, as the nightly RFM job would have kept it
        self.env["loyalty.member.stats"].create(
            [
                {
                    "partner_id": partner.id,
                    "last_purchase_date": long_ago,
                    "rfm_recency": 1,
                    "rfm_frequency": 1,
                    "rfm_monetary": 1,
                    "orders_30d": 0,
                    "orders_90d": 0,
                    "orders_365d": 1,
                    "revenue_365d": 100,
                }
                for partner in [*fans, self.template]
            ]
        )
        self._bulk_members(1000)

        def run():
            campaign = self._campaign("winback", trigger_days=90)
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            self.Campaign._cron_run_campaigns()
            count = self.cr.sql_log_count - before
            campaign.action_stop()
            return campaign, count

        run()  # warm-up: first-use caches (templates, UTM, mail servers)
        small, small_count = run()
        self._bulk_members(49000)
        large, large_count = run()
        self.assertEqual(large.sent_count, 3)
        self.assertEqual(large.skipped_count, 49000 + 1000 + 1)
        self.assertEqual(len(self._mails(large)), 3)
        self.assertEqual(small.sent_count, 3)
        self.assertEqual(large_count, small_count)
        self.assertLess(large_count, 150)


@tagged("post_install", "-at_install")
class TestCampaignPosConversion(CampaignCase):
    def test_pos_order_after_the_message_converts(self):
        fan = self._fan("Shop Fan")
        segment = self.env["loyalty.segment"].create(
            {"name": "Shop fan", "extra_domain": repr([("id", "=", fan.id)])}
        )
        config = self.env["pos.config"].create({"name": "Campaign Shop"})
        session = self.env["pos.session"].create(
            {"config_id": config.id, "user_id": self.env.uid}
        )

        def pos_order(amount, date):
            order = self.env["pos.order"].create(
                {
                    "session_id": session.id,
                    "partner_id": fan.id,
                    "amount_total": amount,
                    "amount_tax": 0.0,
                    "amount_paid": amount,
                    "amount_return": 0.0,
                    "lines": [
                        (
                            0,
                            0,
                            {
                                "product_id": self.product.id,
                                "qty": 1,
                                "price_unit": amount,
                                "price_subtotal": amount,
                                "price_subtotal_incl": amount,
                            },
                        )
                    ],
                }
            )
            order.write({"state": "paid", "date_order": date})
            return order

        pos_order(250.0, fields.Datetime.now() - timedelta(days=1))  # before
        campaign = self._campaign(segment_id=segment.id)
        self.assertEqual(campaign.sent_count, 1)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.converted_count, 0)
        pos_order(650.0, fields.Datetime.now() + timedelta(hours=1))  # after
        campaign.invalidate_recordset()
        self.assertEqual(campaign.converted_count, 1)
        self.assertAlmostEqual(campaign.converted_revenue, 650.0)
        # and too late: outside the conversion window
        pos_order(999.0, fields.Datetime.now() + timedelta(days=40))
        campaign.invalidate_recordset()
        self.assertAlmostEqual(campaign.converted_revenue, 650.0)
