"""A campaign is its company's: it never reaches nor rewards another company's
members, whatever its audience, trigger or reward."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from .test_campaigns import CampaignCase


@tagged("post_install", "-at_install")
class TestCampaignCompany(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Магазин Б"})
        cls.company_b.write(
            {
                "loyalty_phone_region": "RU",
                "loyalty_required_field_ids": False,
                "loyalty_campaign_cap": 0,
            }
        )
        cls.program_b = cls.env["loyalty.program"]._get_bonus_program(cls.company_b)
        cls.ours = cls._fan("Наш участник")
        cls.theirs = cls._fan_of_b("Чужой участник")

    @classmethod
    def _fan_of_b(cls, name):
        cls._phone_seq += 1
        seq = cls._phone_seq
        partner = cls.env["res.partner"].create(
            {
                "name": name,
                "phone": f"+7 916 777-{seq // 100:02d}-{seq % 100:02d}",
                "email": f"b{seq}@example.com",
                "tz": "Europe/Moscow",
                "company_id": cls.company_b.id,
            }
        )
        partner._loyalty_enrol(program=cls.program_b, consent=True)
        return partner

    def _reached(self, campaign):
        return campaign.occurrence_ids.partner_id

    def test_oneoff_reaches_and_rewards_its_company_only(self):
        self.assertEqual(self.theirs.loyalty_card_id.company_id, self.company_b)
        b_balance = self.theirs.loyalty_points
        campaign = self._campaign(reward_type="points", reward_points=50)
        self.assertEqual(self._reached(campaign), self.ours)
        self.assertEqual(campaign.occurrence_ids.state, "sent")
        self.assertEqual(self._mails(campaign).mapped("res_id"), [self.ours.id])
        self.assertEqual(
            campaign.occurrence_ids.ledger_id.card_id.company_id, self.company
        )
        self.theirs.invalidate_recordset()
        self.assertEqual(self.theirs.loyalty_points, b_balance)
        self.assertFalse(
            self.Ledger.sudo().search(
                [
                    ("card_id", "=", self.theirs.loyalty_card_id.id),
                    ("entry_type", "=", "bonus"),
                    ("res_model", "=", "loyalty.campaign.occurrence"),
                ]
            )
        )

    def test_member_of_both_companies_is_rewarded_on_the_campaigns_card(self):
        both = self._fan_of_b("Участник обеих")
        card_a = both.with_company(self.company)._loyalty_enrol(program=self.program)
        card_b = both.loyalty_card_ids.filtered(
            lambda c: c.program_id == self.program_b
        )
        # the member's "own" card is the one of their company (B)
        self.assertEqual(both.loyalty_card_id, card_b)
        campaign = self._campaign(reward_type="points", reward_points=50)
        occurrence = campaign.occurrence_ids.filtered(lambda o: o.partner_id == both)
        self.assertEqual(occurrence.ledger_id.card_id, card_a)
        self.assertEqual(card_a.points, 50)
        self.assertFalse(card_b.ledger_ids.filtered(lambda e: e.entry_type == "bonus"))

    def test_triggers_see_their_company_events_only(self):
        campaigns = [
            self._campaign("welcome"),
            self._campaign("balance", trigger_amount=10),
            self._campaign("card_replaced"),
        ]
        newcomer_b = self._fan_of_b("Новичок Б")
        self.Ledger._post(self.theirs.loyalty_card_id, 100, "bonus")
        self.theirs.loyalty_card_id._loyalty_replace("Потеряна")
        newcomer_a = self._fan("Новичок А")
        self.Ledger._post(self.ours.loyalty_card_id, 100, "bonus")
        self.ours.loyalty_card_id._loyalty_replace("Потеряна")
        self.Campaign._cron_run_campaigns()
        welcome, balance, replaced = campaigns
        self.assertNotIn(newcomer_b, self._reached(welcome))
        self.assertIn(newcomer_a, self._reached(welcome))
        self.assertEqual(self._reached(balance), self.ours)
        self.assertEqual(self._reached(replaced), self.ours)

    def test_audience_and_coupon_program_of_the_company(self):
        segment_b = self.env["loyalty.segment"].create(
            {"name": "Сегмент Б", "company_id": self.company_b.id}
        )
        coupons_b = self.env["loyalty.program"].create(
            {
                "name": "Купоны Б",
                "program_type": "coupons",
                "company_id": self.company_b.id,
            }
        )
        for vals in (
            {"segment_id": segment_b.id},
            {"reward_type": "coupon", "coupon_program_id": coupons_b.id},
        ):
            with self.subTest(vals=vals), self.assertRaises(UserError):
                self.Campaign.create(
                    dict(
                        name="Чужая аудитория",
                        channel="email",
                        mail_template_id=self.env.ref(
                            "loyalty_crm.mail_template_campaign_oneoff"
                        ).id,
                        **vals,
                    )
                )
