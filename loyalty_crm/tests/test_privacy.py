"""Personal data requests: export, erasure, and opt-out from every message."""

import base64
import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import LoyaltyCase


class PrivacyCase(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {
                "welcome_points": 0,
                "questionnaire_points": 0,
                "pending_days": 0,
                "referral_points": 20,
                "referral_points_new": 10,
                "referral_min_amount": 0,
            }
        )
        cls.referrer = cls._member(name="Ольга Соседова", phone="+7 916 800-00-01")
        cls.member = cls.env["res.partner"].create(
            {
                "name": "Анна Стираемая",
                "phone": "+7 916 800-00-02",
                "email": "anna.erase@example.com",
                "street": "ул. Ленина, 1",
                "city": "Тверь",
                "loyalty_birthdate": "1985-04-03",
                "loyalty_gender": "female",
                "loyalty_occupation": "Врач",
                "comment": "Любит красное",
            }
        )
        cls.card = cls.member._loyalty_enrol(
            consent=True, referral_code=cls.referrer.loyalty_referral_code
        )
        cls.code = cls.card.code
        cls.Ledger._accrue_purchase(cls.card, 2000, "privacy-1", reference="Чек 1")
        cls.Ledger._redeem(cls.card, 30, 1000, "privacy-2")


@tagged("post_install", "-at_install")
class TestExportAndErasure(PrivacyCase):
    def _wizard(self, **vals):
        return (
            self.env["loyalty.privacy.wizard"]
            .with_user(self.manager)
            .create(dict({"partner_id": self.member.id}, **vals))
        )

    def test_export_from_the_partner_form(self):
        action = self._wizard(request_type="export", channel="email").action_confirm()
        attachment_id = int(action["url"].split("/")[3].split("?")[0])
        data = json.loads(self.env["ir.attachment"].browse(attachment_id).raw)
        self.assertEqual(data["member"]["Name"], "Анна Стираемая")
        self.assertEqual(data["member"]["Birth Date"], "1985-04-03")
        self.assertEqual(data["cards"][0]["code"], self.code)
        self.assertEqual(
            [c["consent"] for c in data["consents"]], ["Opt-in"], data["consents"]
        )
        types = [e["type"] for e in data["ledger"]]
        self.assertIn("Accrual", types)
        self.assertIn("Redemption", types)
        self.assertEqual(
            round(sum(e["points"] for e in data["ledger"]), 2), self.card.points
        )
        self.assertIn("campaign_messages", data)
        log = self.env["loyalty.privacy.request"].search(
            [("partner_id", "=", self.member.id)]
        )
        self.assertEqual(
            (log.request_type, log.channel, log.done_by),
            ("export", "email", self.manager),
        )
        # a cashier can do neither
        with self.assertRaises(AccessError):
            self._wizard().with_user(self.cashier).action_confirm()
        with self.assertRaises(UserError):
            log.write({"channel": "letter"})

    def test_erasure_then_lookups_reports_and_reconciliation(self):
        Ledger = self.Ledger.sudo()
        dashboard = self.env["loyalty.dashboard"]
        period = ("2022-01-01", "2030-12-31")  # the dashboard reads at most ten years
        kpi_before = dashboard._loyalty_kpi_values(*period)
        points_before = {
            card: card.points for card in (self.card, self.referrer.loyalty_card_id)
        }
        entries_before = Ledger.search_count([])
        amounts_before = sum(Ledger.search([]).mapped("amount"))
        self.assertTrue(Ledger.search_count([("reason", "ilike", "Анна Стираемая")]))
        with self.assertRaisesRegex(UserError, "cannot be undone"):
            self._wizard(request_type="erasure").action_confirm()
        self._wizard(
            request_type="erasure",
            channel="letter",
            reference="Вх. 17",
            confirm_erasure=True,
        ).action_confirm()

        member = self.member.with_context(active_test=False)
        self.assertTrue(member.loyalty_erased)
        self.assertFalse(member.active)
        self.assertNotIn("Анна", member.name)
        for name in (
            "phone",
            "email",
            "street",
            "city",
            "loyalty_birthdate",
            "loyalty_gender",
            "loyalty_occupation",
            "comment",
            "loyalty_referral_code",
            "loyalty_phone",
        ):
            self.assertFalse(member[name], name)
        # the phone and the card find nobody any more, anywhere
        Partner = self.env["res.partner"].with_context(active_test=False)
        for term in ("+7 916 800-00-02", "89168000002", self.code):
            self.assertFalse(Partner._loyalty_lookup(term), term)
        self.assertFalse(Partner.search([("name", "ilike", "Стираемая")]))
        self.assertFalse(Partner.search([("email", "ilike", "anna.erase")]))
        self.assertFalse(self.env["loyalty.card"].search([("code", "=", self.code)]))
        self.assertEqual(self.card.loyalty_state, "blocked")
        # nothing the addon keeps names her any more
        self.assertFalse(Ledger.search_count([("reason", "ilike", "Стираемая")]))
        self.assertFalse(
            self.env["mail.message"]
            .sudo()
            .search_count([("body", "ilike", "Стираемая")])
        )
        self.assertFalse(
            self.env["mail.tracking.value"]
            .sudo()
            .search_count([("old_value_char", "ilike", "Стираемая")])
        )
        self.assertFalse(any(member.loyalty_consent_ids.mapped("note")))
        # the amounts stay: ledger, balances, reports, reconciliation
        self.assertEqual(Ledger.search_count([]), entries_before)
        self.assertEqual(sum(Ledger.search([]).mapped("amount")), amounts_before)
        for card, points in points_before.items():
            self.assertEqual(card.points, points)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())
        kpi_after = dashboard._loyalty_kpi_values(*period)
        for key in (
            "points_issued",
            "points_spent",
            "points_expired",
            "liability_points",
            "liability_value",
            "pending_points",
        ):
            self.assertEqual(kpi_after[key], kpi_before[key], key)
        # who asked, when, who did it
        log = self.env["loyalty.privacy.request"].search(
            [("partner_id", "=", member.id)]
        )
        self.assertEqual(
            (
                log.request_type,
                log.channel,
                log.requested_by,
                log.done_by,
                log.reference,
            ),
            ("erasure", "letter", "member", self.manager, "Вх. 17"),
        )
        self.assertEqual(
            member.loyalty_consent_ids.filtered(lambda c: c.source == "erasure").mapped(
                "consent"
            ),
            ["opt_out", "opt_out"],
        )
        with self.assertRaisesRegex(UserError, "already erased"):
            member.with_user(self.manager)._loyalty_erase()

    def test_erasure_scrubs_import_files(self):
        data = (
            "name,phone,card,points\n"
            "Анна Стираемая,8 916 800-00-02,,\n"
            "Пётр Остаётся,8 916 800-00-09,,5\n"
        ).encode()
        batch = (
            self.env["loyalty.import.batch"]
            .with_user(self.manager)
            .create({"name": "old.csv", "file": base64.b64encode(data)})
        )
        batch.action_check()
        batch.action_import()
        self.member.with_user(self.manager)._loyalty_erase()
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "loyalty.import.batch"), ("res_id", "=", batch.id)]
        )
        self.assertGreaterEqual(len(attachments), 2)
        for attachment in attachments:
            text = attachment.raw.decode("utf-8-sig")
            self.assertNotIn("Стираемая", text)
            self.assertNotIn("800-00-02", text)
            self.assertNotIn("79168000002", text)
            self.assertIn("Пётр", text)


@tagged("post_install", "-at_install")
class TestOptOutAndPortal(HttpCase, PrivacyCase):
    def test_email_unsubscribe_link_lands_in_the_consent_log(self):
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": "Скидки",
                "body_html": "<p>Скидки</p>",
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
            }
        )
        email = self.member.email
        token = mailing._generate_mailing_recipient_token(self.member.id, email)
        response = self.url_open(
            f"/mailing/{mailing.id}/unsubscribe_oneclick",
            data={"document_id": self.member.id, "email": email, "hash_token": token},
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", email)]))
        last = self.member.loyalty_consent_ids.sorted(lambda c: (c.date, c.id))[-1]
        self.assertEqual(
            (last.consent, last.channel, last.source),
            ("opt_out", "email", "unsubscribe"),
        )

    def _reply(self, text, token="s3cret", number="8 916 800-00-02"):
        return self.url_open(
            "/loyalty_crm/sms/reply",
            data=json.dumps({"number": number, "text": text}),
            headers={"X-Loyalty-Token": token, "Content-Type": "application/json"},
        )

    def test_sms_stop_reply(self):
        self.env["ir.config_parameter"].set_param(
            "loyalty_crm.sms_reply_token", "s3cret"
        )
        consents = len(self.member.loyalty_consent_ids)
        self.assertEqual(self._reply("СТОП", token="guess").status_code, 403)
        self.assertEqual(self._reply("Спасибо!").json(), {"opted_out": 0})
        self.assertEqual(len(self.member.loyalty_consent_ids), consents)
        self.assertEqual(self._reply(" стоп! ").json(), {"opted_out": 1})
        self.assertEqual(
            self._reply("STOP", number="+79168000001").json(), {"opted_out": 1}
        )
        self.member.invalidate_recordset()
        last = self.member.loyalty_consent_ids.sorted(lambda c: (c.date, c.id))[-1]
        self.assertEqual(
            (last.consent, last.channel, last.source), ("opt_out", "sms", "sms_reply")
        )
        self.assertTrue(
            self.env["phone.blacklist"].search([("number", "=", "+79168000002")])
        )

    def test_portal_export_is_the_members_own(self):
        user = new_test_user(
            self.env,
            "anna_portal",
            password="anna_portal_pw",
            groups="base.group_portal",
            partner_id=self.member.id,
            name="Анна Стираемая",
        )
        self.assertEqual(user.partner_id, self.member)
        self.authenticate("anna_portal", "anna_portal_pw")
        response = self.url_open("/my/loyalty/personal-data")
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["member"]["Name"], "Анна Стираемая")
        self.assertNotIn("Ольга", json.dumps(data, ensure_ascii=False))
        log = self.env["loyalty.privacy.request"].search(
            [("partner_id", "=", self.member.id)]
        )
        self.assertEqual((log.channel, log.done_by), ("portal", user))

    def test_personal_data_export_of_a_portal_user_who_is_not_a_member(self):
        """Nothing of anyone: not found (not a server error), nothing logged."""
        new_test_user(self.env, "lc_not_member", groups="base.group_portal")
        requests = self.env["loyalty.privacy.request"].search_count([])
        self.authenticate("lc_not_member", "lc_not_member")
        for url in (
            "/my/loyalty/personal-data",
            f"/my/loyalty/personal-data?partner_id={self.member.id}",
        ):
            with self.subTest(url=url):
                response = self.url_open(url)
                self.assertEqual(response.status_code, 404)
                self.assertNotIn("Стираемая", response.text)
                self.assertNotIn("anna.erase", response.text)
        self.assertEqual(self.env["loyalty.privacy.request"].search_count([]), requests)

    def test_sms_reply_without_the_shared_token_opts_no_one_out(self):
        """The provider's STOP reply without the token (no header, an empty or
        wrong one, or no token set in the settings at all): 403, no opt-out."""
        Param = self.env["ir.config_parameter"]

        def reply(headers):
            return self.url_open(
                "/loyalty_crm/sms/reply",
                data=json.dumps({"number": "+79168000002", "text": "СТОП"}),
                headers=dict(headers, **{"Content-Type": "application/json"}),
            )

        def opted_out():
            self.env.invalidate_all()
            return (
                len(self.member.loyalty_consent_ids),
                self.env["phone.blacklist"].search_count([]),
                self.member.loyalty_marketing_consent,
            )

        before = opted_out()
        self.assertTrue(before[2])
        for token in (False, "s3cret"):
            Param.set_param("loyalty_crm.sms_reply_token", token)
            for headers in (
                {},
                {"X-Loyalty-Token": ""},
                {"X-Loyalty-Token": "S3CRET"},
                {"X-Loyalty-Token": "s3cret "},
                {"X-Loyalty-Token": "s3cre"},
                {"X-Loyalty-Token": "\u00e9t\u00e9"},
                {"Authorization": "Bearer s3cret"},
            ):
                with self.subTest(token=token, headers=headers):
                    response = reply(headers)
                    self.assertEqual(response.status_code, 403)
                    self.assertEqual(response.json(), {"error": "forbidden"})
        self.assertEqual(opted_out(), before)
        # the provider's own header: the member is opted out
        self.assertEqual(reply({"X-Loyalty-Token": "s3cret"}).json(), {"opted_out": 1})
        self.assertNotEqual(opted_out(), before)
