import re

from odoo.tests import HttpCase, new_test_user, tagged

from . import common


@tagged("post_install", "-at_install")
class TestPortal(HttpCase, common.LoyaltyCase):
    """ "My loyalty" in the customer portal, as two different members."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write({"pending_days": 0, "welcome_points": 0})
        cls.users = {}
        for login, phone in (
            ("lc_portal_a", "+79161110001"),
            ("lc_portal_b", "+79161110002"),
        ):
            user = new_test_user(cls.env, login, groups="base.group_portal")
            user.partner_id.write({"phone": phone})
            user.partner_id._loyalty_enrol()
            cls.users[login] = user
        cls.a = cls.users["lc_portal_a"].partner_id
        cls.b = cls.users["lc_portal_b"].partner_id
        for i in range(25):
            cls.Ledger._post(cls.a.loyalty_card_id, 1 + i, "adjustment", reason=f"A{i}")
        cls.Ledger._post(cls.b.loyalty_card_id, 777, "adjustment", reason="B only")

    def _page(self, url, status=200):
        response = self.url_open(url)
        self.assertEqual(response.status_code, status, url)
        return response.text

    def test_each_member_sees_only_their_own(self):
        self.authenticate("lc_portal_a", "lc_portal_a")
        page = self._page("/my/loyalty")
        self.assertIn(self.a.loyalty_card_code, page)
        self.assertIn(self.a.loyalty_referral_code, page)
        self.assertNotIn(self.b.loyalty_card_code, page)
        self.assertNotIn("B only", page)
        # 1 + 2 + ... + 25, in whole points
        self.assertIn('o_loyalty_available">325<', page)
        self.assertIn("/report/barcode/", page)
        self.assertEqual(page.count('class="o_loyalty_entry"'), 20)
        page2 = self._page("/my/loyalty/page/2")
        self.assertEqual(page2.count('class="o_loyalty_entry"'), 5)
        self.assertIn(">A0<", page2)
        # own card by id: fine; the other member's card: not found
        self._page(f"/my/loyalty/card/{self.a.loyalty_card_id.id}")
        self._page(f"/my/loyalty/card/{self.b.loyalty_card_id.id}", status=404)
        self.assertIn("/my/loyalty", self._page("/my/home"))

        self.authenticate("lc_portal_b", "lc_portal_b")
        page = self._page("/my/loyalty")
        self.assertIn(self.b.loyalty_card_code, page)
        self.assertIn('o_loyalty_available">777<', page)
        self.assertNotIn(self.a.loyalty_card_code, page)
        self._page(f"/my/loyalty/card/{self.a.loyalty_card_id.id}", status=404)

    def test_questionnaire_and_consent(self):
        name = self.a.name
        self.authenticate("lc_portal_a", "lc_portal_a")
        page = self._page("/my/loyalty")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        sms = self.env.ref("loyalty_crm.channel_sms")
        response = self.url_open(
            "/my/loyalty/profile",
            data={
                "csrf_token": token,
                "loyalty_gender": "female",
                "loyalty_birthdate": "1991-03-04",
                "loyalty_occupation": "Engineer",
                "channels_submitted": "1",
                f"channel_{sms.id}": "on",
                "consent_submitted": "1",
                "marketing_consent": "on",
                # not the member's to change
                "loyalty_tier_id": "1",
                "name": "Hacker",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("saved=1", response.url)
        self.a.invalidate_recordset()
        self.assertEqual(self.a.loyalty_gender, "female")
        self.assertEqual(str(self.a.loyalty_birthdate), "1991-03-04")
        self.assertEqual(self.a.loyalty_channel_ids, sms)
        self.assertEqual(self.a.name, name)
        consent = self.a.loyalty_consent_ids
        self.assertEqual((consent.consent, consent.source), ("opt_in", "portal"))
        self.assertTrue(self.a.loyalty_marketing_consent)
        # opting out is a new record of the consent log
        response = self.url_open(
            "/my/loyalty/profile",
            data={"csrf_token": token, "consent_submitted": "1"},
        )
        self.assertEqual(len(self.a.loyalty_consent_ids), 2)
        self.a.invalidate_recordset()
        self.assertFalse(self.a.loyalty_marketing_consent)
        # a value that isn't an option is refused, nothing changes
        response = self.url_open(
            "/my/loyalty/profile",
            data={"csrf_token": token, "loyalty_gender": "robot"},
        )
        self.assertIn("error=1", response.url)
        self.assertEqual(self.a.loyalty_gender, "female")
        self.assertFalse(self.b.loyalty_gender)
        self.assertFalse(self.b.loyalty_consent_ids)

    def test_not_a_member_yet(self):
        new_test_user(self.env, "lc_portal_c", groups="base.group_portal")
        self.authenticate("lc_portal_c", "lc_portal_c")
        page = self._page("/my/loyalty")
        self.assertIn("not a member of the bonus program yet", page)
        self.assertNotIn(self.a.loyalty_card_code, page)
        self._page(f"/my/loyalty/card/{self.a.loyalty_card_id.id}", status=404)
