from datetime import date

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestQuestionnaire(LoyaltyCase):
    def test_age_computed_and_searchable(self):
        today = fields.Date.context_today(self.env["res.partner"])
        member = self._member(loyalty_birthdate=today - relativedelta(years=30))
        turning = self._member(
            name="Завтра 30",
            phone="+7 903 555-12-34",
            loyalty_birthdate=today - relativedelta(years=30, days=-1),
        )
        self.assertEqual(member.loyalty_age, 30)
        self.assertEqual(turning.loyalty_age, 29)
        Partner = self.env["res.partner"]
        ids = (member | turning).ids
        for operator, expected in (
            ("=", member),
            (">=", member),
            (">", Partner),
            ("<", turning),
            ("<=", member | turning),
            ("!=", turning),
        ):
            with self.subTest(operator=operator):
                found = Partner.search(
                    [("id", "in", ids), ("loyalty_age", operator, 30)]
                )
                self.assertEqual(found, expected)

    def test_completeness_score(self):
        member = self._member()
        # phone only
        self.assertEqual(member.loyalty_completeness, 10)
        member.write(
            {
                "email": "anna@example.com",
                "loyalty_birthdate": date(1990, 5, 17),
                "loyalty_gender": "female",
                "loyalty_marital_status": "married",
                "loyalty_employment": "employed",
                "loyalty_children": "2",
                "loyalty_channel_ids": [
                    (6, 0, self.env.ref("loyalty_crm.channel_sms").ids)
                ],
                "city": "Москва",
            }
        )
        self.assertEqual(member.loyalty_completeness, 90)
        member.loyalty_interest_ids = self.env.ref("product.product_category_all")
        self.assertEqual(member.loyalty_completeness, 100)

    def test_required_fields_enforced_at_enrolment(self):
        fields_ = self.env["ir.model.fields"].search(
            [
                ("model", "=", "res.partner"),
                ("name", "in", ("email", "loyalty_birthdate")),
            ]
        )
        self.company.loyalty_required_field_ids = fields_
        partner = self.env["res.partner"].create(
            {"name": "Без почты", "phone": "+79161234567"}
        )
        with self.assertRaisesRegex(
            ValidationError, "fill in: .*(Email|Birth Date).*(Email|Birth Date)"
        ):
            partner._loyalty_enrol()
        self.assertFalse(partner.loyalty_is_member)
        partner.write({"email": "x@example.com", "loyalty_birthdate": date(1990, 1, 1)})
        partner._loyalty_enrol()
        self.assertTrue(partner.loyalty_is_member)
        # a member can't clear a required answer afterwards
        with self.assertRaisesRegex(ValidationError, "Email"):
            partner.email = False

    def test_name_and_phone_always_required(self):
        partner = self.env["res.partner"].create({"name": "Без телефона"})
        with self.assertRaisesRegex(ValidationError, "fill in: Phone"):
            partner._loyalty_enrol()
        partner.mobile = "+7 916 123-45-67"
        partner._loyalty_enrol()
        self.assertEqual(partner.loyalty_phone, "+79161234567")

    def test_required_fields_configurable_in_settings(self):
        birth = self.env.ref("loyalty_crm.field_res_partner__loyalty_birthdate")
        with Form(self.env["res.config.settings"]) as settings:
            settings.loyalty_required_field_ids.add(birth)
            settings.loyalty_phone_region = "KZ"
        settings.save().execute()
        self.assertEqual(self.company.loyalty_required_field_ids, birth)
        self.assertEqual(self.company.loyalty_phone_region, "KZ")

    def test_changes_are_tracked_in_chatter(self):
        member = self._member()
        self.env.flush_all()
        self.env.cr.precommit.run()  # as if the enrolment was committed
        member.write({"loyalty_gender": "female", "phone": "+7 903 555-12-34"})
        self.env.flush_all()
        self.env.cr.precommit.run()  # tracking values are written at commit
        tracked = member.message_ids.tracking_value_ids.field_id.mapped("name")
        self.assertIn("loyalty_gender", tracked)
        self.assertIn("phone", tracked)

    def test_member_with_points_cannot_be_deleted(self):
        member = self._member()
        self._credit(member, 10)
        with self.assertRaisesRegex(UserError, "archive the contact"):
            member.unlink()
        member.action_archive()
        self.assertFalse(member.active)
        # a member with only history (balance spent to zero) is protected too
        member.action_unarchive()
        self._credit(member, -10)
        with self.assertRaisesRegex(UserError, "archive the contact"):
            member.unlink()

    def test_non_member_can_be_deleted(self):
        partner = self.env["res.partner"].create({"name": "Temp"})
        partner.unlink()
        self.assertFalse(partner.exists())

    def test_consent_is_an_append_only_log(self):
        member = self._member()
        Consent = self.env["loyalty.consent"].with_user(self.cashier)
        Consent._record(member, True, "pos")
        self.assertTrue(member.loyalty_marketing_consent)
        opt_out = Consent._record(member, "opt_out", "backoffice")
        self.assertFalse(member.loyalty_marketing_consent)
        self.assertEqual(opt_out.user_id, self.cashier)
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            opt_out.sudo().consent = "opt_in"
        with self.assertRaisesRegex(UserError, "cannot be deleted"):
            opt_out.sudo().unlink()

    def test_consent_given_at_enrolment(self):
        partner = self.env["res.partner"].create(
            {"name": "Согласие", "phone": "+79161234567"}
        )
        partner._loyalty_enrol(consent=True, source="pos")
        self.assertEqual(partner.loyalty_consent_ids.mapped("source"), ["pos"])
        self.assertTrue(partner.loyalty_marketing_consent)

    def test_acquisition_source_recorded(self):
        source = self.env["utm.source"].create({"name": "Листовка у кассы"})
        wizard = Form(self.env["loyalty.enrol.wizard"].with_user(self.cashier))
        wizard.name = "Пётр Иванов"
        wizard.phone = "8 916 123 45 67"
        wizard.source_id = source
        wizard.consent = True
        action = wizard.save().action_enrol()
        self.assertEqual(action["params"]["type"], "success")
        member = self.env["res.partner"].browse(action["params"]["next"]["res_id"])
        self.assertEqual(member.loyalty_source_id, source)
        self.assertEqual(member.phone, "+79161234567")
        self.assertEqual(member.loyalty_card_id.loyalty_state, "active")
