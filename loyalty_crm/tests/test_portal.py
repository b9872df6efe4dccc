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

    def test_page_numbers_out_of_range_or_not_numbers(self):
        """Page 0, negative, not a number, 10**12, in the path or the query: the
        first or last page of the member's own history (or not found), never a
        server error, never anyone else's entries."""
        self.authenticate("lc_portal_a", "lc_portal_a")
        own = f"/my/loyalty/card/{self.a.loyalty_card_id.id}"
        for base in ("/my/loyalty", own):
            pages = {
                f"{base}/page/0": 20,
                f"{base}/page/-1": 20,  # Odoo's int converter is signed
                f"{base}/page/1000000000000": 5,
                f"{base}?page=0": 20,
                f"{base}?page=-3": 20,
                f"{base}?page=abc": 20,
                f"{base}?page=1e9": 20,
                f"{base}?page=1000000000000": 5,
                f"{base}?page=": 20,
            }
            for url, entries in pages.items():
                with self.subTest(url=url):
                    page = self._page(url)
                    self.assertEqual(page.count('class="o_loyalty_entry"'), entries)
                    self.assertNotIn("B only", page)
            for url in (f"{base}/page/abc", f"{base}/page/1.5"):
                with self.subTest(url=url):
                    self._page(url, status=404)
        # another member's card, on any page
        other = f"/my/loyalty/card/{self.b.loyalty_card_id.id}"
        for url in (f"{other}/page/0", f"{other}/page/1000000000000"):
            with self.subTest(url=url):
                self.assertNotIn("B only", self._page(url, status=404))

    def test_foreign_channels_in_the_preferences_form(self):
        """The notification channels are one shared catalogue: the form sets
        the member's own choice among them; an id that isn't in it, a
        ``partner_id`` or the channels' own field, are ignored, and no one
        else's preferences change."""
        sms = self.env.ref("loyalty_crm.channel_sms")
        email = self.env.ref("loyalty_crm.channel_email")
        self.b.loyalty_channel_ids = email
        catalogue = self.env["loyalty.notification.channel"].search([])
        catalogue_before = [(c.id, c.name, c.code) for c in catalogue]
        self.authenticate("lc_portal_a", "lc_portal_a")
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', self._page("/my/loyalty")
        ).group(1)
        response = self.url_open(
            "/my/loyalty/profile",
            data={
                "csrf_token": token,
                "channels_submitted": "1",
                f"channel_{sms.id}": "on",
                f"channel_{max(catalogue.ids) + 1}": "on",
                "channel_-1": "on",
                "channel_abc": "on",
                "partner_id": str(self.b.id),
                "loyalty_channel_ids": f"[(6, 0, [{email.id}])]",
            },
        )
        self.assertIn("saved=1", response.url)
        self.env.invalidate_all()
        self.assertEqual(self.a.loyalty_channel_ids, sms)
        self.assertEqual(self.b.loyalty_channel_ids, email)
        catalogue = self.env["loyalty.notification.channel"].search([])
        self.assertEqual([(c.id, c.name, c.code) for c in catalogue], catalogue_before)
        # a portal user who isn't a member changes nothing at all
        new_test_user(self.env, "lc_portal_d", groups="base.group_portal")
        self.authenticate("lc_portal_d", "lc_portal_d")
        token = re.search(r'csrf_token: "([^"]+)"', self._page("/my/loyalty")).group(1)
        response = self.url_open(
            "/my/loyalty/profile",
            data={
                "csrf_token": token,
                "channels_submitted": "1",
                f"channel_{sms.id}": "on",
                "partner_id": str(self.b.id),
            },
        )
        self.assertEqual(response.status_code, 404)
        self.env.invalidate_all()
        self.assertEqual(self.b.loyalty_channel_ids, email)

    def test_not_a_member_yet(self):
        new_test_user(self.env, "lc_portal_c", groups="base.group_portal")
        self.authenticate("lc_portal_c", "lc_portal_c")
        page = self._page("/my/loyalty")
        self.assertIn("not a member of the bonus program yet", page)
        self.assertNotIn(self.a.loyalty_card_code, page)
        self._page(f"/my/loyalty/card/{self.a.loyalty_card_id.id}", status=404)

    def test_points_owed_are_shown(self):
        card = self.b.loyalty_card_id
        accrual = self.Ledger._post(card, 100, "accrual", amount=2000, reason="sale")
        self.Ledger._post(card, -877, "redemption", reason="spent")
        accrual._reverse("portal-return")  # 100 back, none left: owed
        self.assertEqual(
            (card.points, card.loyalty_debt, self.b.loyalty_debt), (0, 100, 100)
        )
        self.authenticate("lc_portal_b", "lc_portal_b")
        page = self._page("/my/loyalty")
        debt = re.search(r'o_loyalty_debt".*?<strong>([^<]*)</strong>', page, re.S)
        self.assertTrue(debt, page)
        self.assertEqual(debt.group(1).strip(), "100")
        self.authenticate("lc_portal_a", "lc_portal_a")
        self.assertNotIn("o_loyalty_debt", self._page("/my/loyalty"))


@tagged("post_install", "-at_install")
class TestPortalFirstVisitLanguage(HttpCase):
    """A Russian member's first visit: the login form, then the portal in
    Russian, whatever the browser asks for (never /en/my)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("ru_RU")
        cls.env["ir.module.module"].search(
            [("name", "in", ("base", "web", "portal", "loyalty_crm"))]
        )._update_translations(["ru_RU"])
        cls.env.company.loyalty_required_field_ids = False
        cls.user = new_test_user(
            cls.env, "lc_portal_first", groups="base.group_portal", lang="ru_RU"
        )
        cls.user.partner_id.phone = "+79165550303"
        cls.user.partner_id._loyalty_enrol()

    def _first_visit(self):
        """Log in from a new browser that prefers English; the page it lands on."""
        self.opener.cookies.clear()
        headers = {"Accept-Language": "en-US,en;q=0.9"}
        form = self.url_open("/web/login", headers=headers).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = self.url_open(
            "/web/login",
            data={
                "login": "lc_portal_first",
                "password": "lc_portal_first",
                "csrf_token": token,
            },
            headers=headers,
        )
        response.raise_for_status()
        path = response.url.split("//", 1)[1].split("/", 1)[1].split("?")[0]
        # the language the page is in: the active one of the portal's switcher
        lang = re.search(
            r'js_change_lang active"[^>]* data-url_code="([^"]+)"', response.text
        ).group(1)
        return "/" + path, lang, response.text

    def test_database_in_russian(self):
        # the demo's database: Russian by default (ir.default of the partner's lang)
        self.env["ir.default"].set("res.partner", "lang", "ru_RU")
        path, lang, page = self._first_visit()
        self.assertEqual((path, lang), ("/my", "ru"))
        self.assertIn("Мои бонусы", page)

    def test_database_in_english(self):
        self.env["ir.default"].set("res.partner", "lang", "en_US")
        path, lang, page = self._first_visit()
        self.assertEqual((path, lang), ("/ru/my", "ru"))
        self.assertIn("Мои бонусы", page)
