import json

from odoo.tests import HttpCase, new_test_user

from . import common

BASE = "/api/loyalty/v1"


class ApiCase(HttpCase, common.LoyaltyCase):
    """Real requests through Odoo's test HTTP server, with real API keys."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {
                "pending_days": 0,
                "max_redeem_share": 30,
                "min_balance_to_spend": 0,
                "welcome_points": 0,
                "questionnaire_points": 0,
            }
        )
        cls.api_user = new_test_user(
            cls.env,
            "lc_api",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        cls.api_manager = new_test_user(
            cls.env,
            "lc_api_manager",
            groups="base.group_user,loyalty_crm.group_loyalty_api,"
            "loyalty_crm.group_loyalty_manager",
        )
        cls.not_api_user = new_test_user(
            cls.env,
            "lc_not_api",
            groups="base.group_user,loyalty_crm.group_loyalty_user",
        )
        cls.key = cls._key(cls.api_user)
        cls.manager_key = cls._key(cls.api_manager)
        cls.not_api_key = cls._key(cls.not_api_user)
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id
        cls.Ledger._post(cls.card, 100, "adjustment", reason="opening balance")

    @classmethod
    def _key(cls, user):
        return (
            cls.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(None, "test", None)
        )

    def api(
        self,
        method,
        path,
        body=None,
        key=None,
        raw=None,
        content_type="application/json",
        headers=None,
    ):
        """``(status, json)`` of a request to the API."""
        all_headers = dict(headers or {})
        if key is not False:
            all_headers["Authorization"] = f"Bearer {key or self.key}"
        data = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None and content_type:
            all_headers["Content-Type"] = content_type
        response = self.opener.request(
            method,
            self.base_url() + BASE + path,
            data=data,
            headers=all_headers,
            timeout=60,
            allow_redirects=False,
        )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, payload

    def assertError(self, result, status, code):
        got_status, payload = result
        self.assertEqual(got_status, status, payload)
        self.assertEqual(set(payload), {"error"}, payload)
        self.assertEqual(payload["error"]["code"], code, payload)
        self.assertTrue(payload["error"]["message"], payload)

    def counts(self):
        """Rows of everything the API can write."""
        self.env.flush_all()
        self.env.invalidate_all()
        return {
            model: self.env[model]
            .sudo()
            .with_context(active_test=False)
            .search_count([])
            for model in (
                "loyalty.ledger",
                "res.partner",
                "loyalty.card",
                "loyalty.api.request",
                "loyalty.consent",
                "utm.source",
            )
        }
