"""What the screens ask the server: the balance adjustment wizard, the launch
estimate, the live segment count, plain errors, one point system."""

from odoo.exceptions import AccessError, RedirectWarning, UserError, ValidationError
from odoo.tests import Form, tagged

from ..wizard.loyalty_adjust_wizard import parse_change
from .common import LoyaltyCase
from .test_campaigns import CampaignCase


@tagged("post_install", "-at_install")
class TestAdjustWizard(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id
        cls.Ledger._post(cls.card, 1000, "adjustment", reason="seed")

    def _wizard(self, user=None, **values):
        action = self.member.with_user(user or self.manager).action_loyalty_adjust()
        self.assertEqual(action["res_model"], "loyalty.adjust.wizard")
        form = Form(
            self.env["loyalty.adjust.wizard"]
            .with_user(user or self.manager)
            .with_context(**action["context"])
        )
        for name, value in values.items():
            setattr(form, name, value)
        return form

    def test_nothing_is_prefilled(self):
        form = self._wizard()
        self.assertFalse(form.change)
        self.assertFalse(form.reason)
        self.assertEqual(form.current_points, 1000)
        self.assertEqual(form.new_points, 1000)
        form.change = "-250"
        self.assertEqual(form.new_points, 750)

    def test_signed_change_and_reason_go_to_the_ledger(self):
        self._wizard(
            change="+150", reason="Покупка до выдачи карты"
        ).save().action_confirm()
        self._wizard(change="−1 000,5", reason="Ошибка").save()
        self._wizard(change="-50", reason="Ошибка кассира").save().action_confirm()
        entries = self.card.ledger_ids.sorted("id")[-2:]
        self.assertEqual(
            [(e.entry_type, e.points, e.reason, e.user_id) for e in entries],
            [
                ("adjustment", 150, "Покупка до выдачи карты", self.manager),
                ("adjustment", -50, "Ошибка кассира", self.manager),
            ],
        )
        self.assertEqual(self.card.points, 1100)

    def test_parse_change(self):
        self.assertEqual(parse_change("+500"), 500)
        self.assertEqual(parse_change(" - 200 "), -200)
        self.assertEqual(parse_change("\u22121\u00a0500,25"), -1500.25)
        for text in ("500", "0", "", "+", "+abc", "1e9", "+1.234", "++5", "+5-", None):
            self.assertIsNone(parse_change(text), text)

    def test_refusals(self):
        for change, message in (
            ("500", "with its sign"),
            ("+0", "changes nothing"),
            ("+999999999", "is not accepted"),
        ):
            wizard = self._wizard(change=change, reason="x").save()
            with self.assertRaisesRegex(UserError, message):
                wizard.action_confirm()
        # taking more than the balance is the ledger's refusal
        wizard = self._wizard(change="-1000.01", reason="x").save()
        with self.assertRaisesRegex(UserError, "cannot be taken"):
            wizard.action_confirm()
        self.assertEqual(self.card.points, 1000)

    def test_only_managers_adjust(self):
        with self.assertRaises(AccessError):
            self.env["loyalty.adjust.wizard"].with_user(self.cashier).create(
                {"partner_id": self.member.id, "change": "+100", "reason": "x"}
            )
        # a wizard created by a manager, confirmed by a cashier over RPC
        wizard = self._wizard(change="+100", reason="x").save()
        with self.assertRaises(AccessError):
            wizard.with_user(self.cashier).action_confirm()
        self.assertEqual(self.card.points, 1000)

    def test_card_button_opens_the_wizard(self):
        action = self.card.with_user(self.manager).action_loyalty_update_balance()
        self.assertEqual(action["res_model"], "loyalty.adjust.wizard")
        self.assertEqual(action["context"]["default_partner_id"], self.member.id)


@tagged("post_install", "-at_install")
class TestPlainErrors(LoyaltyCase):
    def test_phone_errors_in_plain_words(self):
        for number, reason in (
            ("12345", "too few digits"),
            ("+7 916 123 45 67 89 00 11 22 33", "too many digits"),
            ("+7 000 000 00 00", "no such number exists"),
        ):
            with self.assertRaisesRegex(ValidationError, reason):
                self._member(name="Плохой номер", phone=number)

    def test_duplicate_phone_names_and_opens_the_member(self):
        anna = self._member()
        form = Form(self.env["loyalty.enrol.wizard"].with_user(self.cashier))
        form.name = "Анна Вторая"
        form.phone = "8 916 123-45-67"
        wizard = form.save()
        with self.assertRaises(RedirectWarning) as caught:
            wizard.action_enrol()
        message, action, _button = caught.exception.args[:3]
        self.assertIn(anna.name, message)
        self.assertIn(anna.loyalty_card_id.code, message)
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("res.partner", anna.id)
        )
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Анна Вторая")]))

    def test_enrolment_is_confirmed(self):
        form = Form(self.env["loyalty.enrol.wizard"].with_user(self.cashier))
        form.name = "Пётр Новый"
        form.phone = "8 916 765-43-21"
        action = form.save().action_enrol()
        member = self.env["res.partner"].browse(action["params"]["next"]["res_id"])
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn(member.loyalty_card_id.code, action["params"]["message"])


@tagged("post_install", "-at_install")
class TestOnePointSystem(LoyaltyCase):
    def test_points_discount_is_named_plainly(self):
        reward = self.program.reward_ids.filtered(lambda r: r.reward_type == "discount")
        self.assertEqual(reward.discount_line_product_id.name, "Paid with points")
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"].search(
            [("name", "=", "loyalty_crm")]
        )._update_translations(["ru_RU"])
        self.env["res.company"]._loyalty_ensure_bonus_programs()
        self.assertEqual(
            reward.discount_line_product_id.with_context(lang="ru_RU").name,
            "Оплата баллами",
        )

    def test_native_widgets_never_show_the_bonus_program(self):
        member = self._member()
        self.Ledger._post(member.loyalty_card_id, 100, "adjustment", reason="seed")
        # the till's native loyalty code never loads the bonus program
        config = self.env["pos.config"].create({"name": "Касса"})
        self.assertNotIn(self.program, config._get_program_ids())

    def test_acquisition_sources_in_the_database_language(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        store = self.env.ref("loyalty_crm.utm_source_store")
        store.name = "Shop (POS)"
        self.env["res.company"]._loyalty_name_acquisition_sources()
        self.assertEqual(store.name, "Shop (POS)", "English database: unchanged")
        self.env.ref("base.user_admin").lang = "ru_RU"
        self.env["res.company"]._loyalty_name_acquisition_sources()
        self.assertEqual(store.name, "Магазин (касса)")
        # a name of the user's own stays
        store.name = "Касса у входа"
        self.env["res.company"]._loyalty_name_acquisition_sources()
        self.assertEqual(store.name, "Касса у входа")

    def test_month_headings_in_the_nominative(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        member = self._member()
        self.Ledger._post(member.loyalty_card_id, 100, "adjustment", reason="seed")
        groups = (
            self.env["loyalty.points.report"]
            .with_context(lang="ru_RU")
            .read_group([], ["points:sum"], ["date:month"])
        )
        self.assertTrue(groups)
        label = groups[0]["date:month"]
        self.assertRegex(label, r"^[а-яё]+ \d{4}$")
        # nominative (ноябрь, май, март), not genitive (ноября, мая, марта)
        self.assertNotRegex(label.split()[0], "[яа]$")
        # Odoo's own lists and pivots too (a date and a datetime grouped by month)
        self.env["res.partner"].create(
            [
                {"name": "Март", "loyalty_birthdate": "1990-03-05"},
                {"name": "Май", "loyalty_birthdate": "1990-05-05"},
            ]
        )
        Partner = self.env["res.partner"].with_context(lang="ru_RU", tz="Europe/Moscow")
        months = {
            group["loyalty_birthdate:month"]
            for group in Partner.read_group(
                [("loyalty_birthdate", "!=", False)], [], ["loyalty_birthdate:month"]
            )
        }
        self.assertLessEqual({"март 1990", "май 1990"}, months)
        label = Partner.read_group([], [], ["create_date:month"])[0][
            "create_date:month"
        ]
        self.assertNotRegex(label.split()[0], "[яа]$")


@tagged("post_install", "-at_install")
class TestLaunchEstimate(CampaignCase):
    def _draft(self, **vals):
        return self.Campaign.create(
            {
                "name": "Весна",
                "channel": "email",
                "launch_type": "oneoff",
                "control_percent": 0,
                "mail_template_id": self.env.ref(
                    "loyalty_crm.mail_template_campaign_oneoff"
                ).id,
                **vals,
            }
        )

    def test_estimate_is_what_the_engine_then_does(self):
        self.company.write({"loyalty_campaign_cap": 1, "loyalty_campaign_cap_days": 7})
        yes = [self._fan(f"Согласна {n}") for n in range(4)]
        self._fan("Без согласия", consent=False)
        self._fan("Без почты", email=False)
        banned = self._fan("В чёрном списке")
        self.env["mail.blacklist"].sudo()._add(banned.email)
        capped = yes[0]
        previous = self._draft(
            name="Первая",
            segment_id=self.env["loyalty.segment"]
            .create({"name": "Первая", "extra_domain": repr([("id", "=", capped.id)])})
            .id,
        )
        previous.action_launch()
        previous._cron_run_campaigns()
        self.assertEqual(previous.sent_count, 1)

        campaign = self._draft()
        action = campaign.action_launch_confirm()
        self.assertEqual(campaign.state, "draft", "the Launch button only asks")
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        members = self.env["res.partner"].search_count(
            [("loyalty_is_member", "=", True)]
        )
        self.assertEqual(
            (
                wizard.audience_count,
                wizard.reach_count,
                wizard.no_consent_count,
                wizard.no_address_count,
                wizard.blacklist_count,
                wizard.cap_count,
            ),
            (members, members - 4, 1, 1, 1, 1),
        )
        reach = wizard.reach_count
        wizard.action_confirm()
        self.assertEqual(campaign.state, "scheduled")
        campaign._cron_run_campaigns()
        skipped = campaign.occurrence_ids.filtered(lambda o: o.state == "skipped")
        self.assertEqual(campaign.sent_count, reach)
        self.assertEqual(
            sorted(skipped.mapped("skip_reason")),
            ["blacklist", "cap", "no_address", "no_consent"],
        )

    def test_estimate_of_the_control_group_and_segment(self):
        fans = [self._fan(f"Фанат {n}") for n in range(10)]
        segment = self.env["loyalty.segment"].create(
            {
                "name": "Десять",
                "extra_domain": repr([("id", "in", [f.id for f in fans])]),
            }
        )
        campaign = self._draft(segment_id=segment.id, control_percent=20)
        estimate = campaign._launch_estimate()
        self.assertEqual(
            (estimate["audience"], estimate["reach"], estimate["control"]), (10, 8, 2)
        )

    def test_cashier_cannot_launch(self):
        campaign = self._draft()
        with self.assertRaises(AccessError):
            campaign.with_user(self.cashier).action_launch_confirm()
        self.assertEqual(campaign.state, "draft")


@tagged("post_install", "-at_install")
class TestSegmentLiveCount(CampaignCase):
    def test_count_before_saving(self):
        self._fan("Она", loyalty_gender="female")
        self._fan("Он", loyalty_gender="male")
        women = self.env["res.partner"].search_count(
            [("loyalty_is_member", "=", True), ("loyalty_gender", "=", "female")]
        )
        form = Form(self.env["loyalty.segment"].with_user(self.manager))
        form.name = "Женщины"
        members = self.env["res.partner"].search_count(
            [("loyalty_is_member", "=", True)]
        )
        self.assertEqual(form.member_count, members)
        form.gender = "female"
        self.assertEqual(form.member_count, women)

    def test_selection_labels_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"].search(
            [("name", "=", "loyalty_crm")]
        )._update_translations(["ru_RU"])
        Segment = self.env["loyalty.segment"].with_context(lang="ru_RU")
        labels = dict(Segment._fields["gender"]._description_selection(Segment.env))
        self.assertEqual(labels["female"], "Женский")
