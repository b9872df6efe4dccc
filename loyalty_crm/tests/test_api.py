import datetime
import json
import re
from types import SimpleNamespace
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..controllers import api as api_controller
from ..models import loyalty_api
from ..models.loyalty_api import OPERATIONS, LoyaltyApi
from .api_common import BASE, ApiCase


@tagged("post_install", "-at_install")
class TestApi(ApiCase):
    """Every row of the contract (API.md), through real HTTP requests."""

    def _accrue(self, amount=1000, key="acc-1", **extra):
        return self.api(
            "POST",
            "/accruals",
            dict(
                {"card": self.card.code, "amount": amount, "idempotency_key": key},
                **extra,
            ),
        )

    # ------------------------------------------------------------ openapi
    def test_openapi_describes_exactly_the_routes(self):
        status, doc = self.api("GET", "/openapi.json", key=False)
        self.assertEqual(status, 200)
        self.assertEqual(doc["openapi"][:2], "3.")
        described = {
            (method.upper(), path)
            for path, ops in doc["paths"].items()
            for method in ops
        }
        routing = self.env["ir.http"].routing_map()
        implemented = set()
        for rule in routing.iter_rules():
            if (
                not rule.rule.startswith(BASE + "/")
                or "<path:" in rule.rule
                or rule.rule == BASE + "/"
            ):
                continue  # (the catch-all answering JSON 404/405 is not an endpoint)
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(BASE) :])
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                implemented.add((method, path))
        self.assertEqual(described, implemented)
        for name, op in OPERATIONS.items():
            responses = doc["paths"][op["path"]][op["method"].lower()]["responses"]
            self.assertEqual({int(s) for s in responses}, set(op["statuses"]), name)
            self.assertEqual(
                responses["401"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error",
            )

    def test_unknown_paths_and_methods_answer_json(self):
        before = self.counts()
        for method, path, status, code in [
            ("GET", "/nothing", 404, "not_found"),
            ("GET", "/members/abc/transactions", 404, "not_found"),
            ("POST", "/members/lookup", 405, "method_not_allowed"),
            ("GET", "/accruals", 405, "method_not_allowed"),
            ("DELETE", "/redemptions", 405, "method_not_allowed"),
        ]:
            with self.subTest(method=method, path=path):
                self.assertError(self.api(method, path, body={}), status, code)
        self.assertEqual(self.counts(), before)

    def test_openapi_never_echoes_a_forged_host(self):
        """The document's server is the database's base URL (``web.base.url``,
        Odoo's own for every link it sends), whatever Host the client sends."""
        ICP = self.env["ir.config_parameter"]
        base_url = ICP.get_param("web.base.url")
        for headers in (
            {},
            {"Host": "evil.example"},
            {"Host": "evil.example:8069", "X-Forwarded-Host": "evil.example"},
            {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher"},
        ):
            with self.subTest(headers=headers):
                response = self.opener.get(
                    self.base_url() + BASE + "/openapi.json",
                    headers=headers,
                    timeout=60,
                )
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json()["servers"], [{"url": base_url + BASE}])
                self.assertNotIn("evil", response.text)
                self.assertNotIn("gopher", response.text)
        # the public address the administrator set (behind a proxy)
        ICP.set_param("web.base.url", "https://bonus.example.ru/")
        response = self.opener.get(
            self.base_url() + BASE + "/openapi.json",
            headers={"Host": "evil.example"},
            timeout=60,
        )
        self.assertEqual(
            response.json()["servers"], [{"url": "https://bonus.example.ru" + BASE}]
        )

    def test_the_catch_all_answers_json_to_anyone(self):
        """Without a key, with a garbage key or body, any method, any path under
        the base: a JSON 404 or 405, never an HTML page, a 5xx or a trace."""
        before = self.counts()
        paths = [
            "",
            "/",
            "/nothing/at/all",
            "/members/1/transactions/extra",
            "/members/%00/transactions",
            "/transactions/abc/reversal",
            "/%ff%fe",
            "/..%2f..%2fweb%2fdatabase%2fmanager",
            "/members/lookup/" + "x" * 3000,
            "/openapi.json/x",
        ]
        requests = []
        for path in paths:
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
                requests.append((method, path, None))
        requests += [
            ("POST", "/nothing", b"\x00\xff{garbage"),
            ("PUT", "/accruals", b'{"card": "1", "amount": 1e999}'),
            ("DELETE", "/members/1/transactions", b"[" * 5000),
        ]
        for method, path, raw in requests:
            for key in (False, "garbage \u00e9", self.not_api_key):
                with self.subTest(method=method, path=path, key=key):
                    headers = {}
                    if key is not False:
                        headers["Authorization"] = f"Bearer {key}"
                    response = self.opener.request(
                        method,
                        self.base_url() + BASE + path,
                        data=raw,
                        headers=headers,
                        timeout=60,
                        allow_redirects=False,
                    )
                    self.assertIn(response.status_code, (404, 405), response.text)
                    self.assertEqual(
                        response.headers["Content-Type"].split(";")[0],
                        "application/json",
                        response.text[:300],
                    )
                    payload = response.json()
                    self.assertEqual(set(payload), {"error"}, payload)
                    self.assertEqual(
                        payload["error"]["code"],
                        {404: "not_found", 405: "method_not_allowed"}[
                            response.status_code
                        ],
                    )
                    self.assertNotIn("Traceback", response.text)
        self.assertEqual(self.counts(), before)

    # ------------------------------------------------------------ auth
    def test_auth(self):
        self.assertError(
            self.api("GET", "/members/lookup?card=1", key=False), 401, "unauthorized"
        )
        self.assertError(
            self.api("GET", "/members/lookup?card=1", key="nope"), 401, "unauthorized"
        )
        self.assertError(
            self.api("GET", "/members/lookup?card=1", key=self.not_api_key),
            403,
            "forbidden",
        )
        self.assertError(
            self.api("POST", "/accruals", raw="x", key=False), 401, "unauthorized"
        )

    def test_a_remembered_key_is_still_checked_on_every_request(self):
        """What is known of a key is kept per process, and its hash check is
        remembered; its expiry, revoking it, archiving its user, or a forged key
        with the same index never pass, and the key's row is not read again."""
        user = new_test_user(
            self.env,
            "lc_api_memo",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        tomorrow = fields.Datetime.now() + datetime.timedelta(days=1)
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(None, "test", tomorrow)
        )
        lookup = f"/members/lookup?card={self.card.code}"
        self.assertEqual(self.api("GET", lookup, key=key)[0], 200)

        # the second check neither hashes the key nor reads its row again
        def no_hashing(*_args):
            raise AssertionError("the key was hashed again")

        with (
            patch.object(
                loyalty_api, "API_KEY_CRYPT_CONTEXT", SimpleNamespace(verify=no_hashing)
            ),
            self.assertQueryCount(0),
        ):
            self.assertEqual(
                self.env["loyalty.api"]._check_api_key(key)["uid"], user.id
            )
        self.assertEqual(self.api("GET", lookup, key=key)[0], 200)
        forged = key[:-4] + ("0000" if key[-4:] != "0000" else "1111")
        self.assertError(self.api("GET", lookup, key=forged), 401, "unauthorized")
        # the key's expiry, checked on every request
        with freeze_time(tomorrow + datetime.timedelta(seconds=1)):
            self.assertError(self.api("GET", lookup, key=key), 401, "unauthorized")
        self.assertEqual(self.api("GET", lookup, key=key)[0], 200)
        user.active = False
        self.env.flush_all()
        self.assertError(self.api("GET", lookup, key=key), 401, "unauthorized")
        user.active = True
        self.env.flush_all()
        self.assertEqual(self.api("GET", lookup, key=key)[0], 200)
        # another key of the user, then the first one revoked
        other = self._key(user)
        self.assertEqual(self.api("GET", lookup, key=other)[0], 200)
        self.env["res.users.apikeys"].sudo().search(
            [("user_id", "=", user.id), ("expiration_date", "!=", False)]
        )._remove()
        self.assertError(self.api("GET", lookup, key=key), 401, "unauthorized")
        self.assertEqual(self.api("GET", lookup, key=other)[0], 200)

    def test_what_the_api_knows_of_a_key_follows_its_user(self):
        """The key's user's language, company's program and coalition partner,
        kept with the key, follow every change of them."""
        user = new_test_user(
            self.env,
            "lc_api_follow",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        key = self._key(user)
        known = self.env["loyalty.api"]._check_api_key(key)
        self.assertEqual(known["program_id"], self.program.id)
        self.assertFalse(known["coalition_id"])
        user.partner_id.lang = "ru_RU"
        self.assertEqual(self.env["loyalty.api"]._check_api_key(key)["lang"], "ru_RU")
        coalition = self.env["loyalty.coalition.partner"].create(
            {
                "name": "Кафе",
                "partner_id": self.env["res.partner"]
                .create({"name": "ООО Кафе", "is_company": True})
                .id,
                "user_id": user.id,
                "program_id": self.program.id,
            }
        )
        self.assertEqual(
            self.env["loyalty.api"]._check_api_key(key)["coalition_id"], coalition.id
        )
        coalition.unlink()
        self.assertFalse(self.env["loyalty.api"]._check_api_key(key)["coalition_id"])
        company = user.company_id
        program = company.loyalty_bonus_program_id
        company.loyalty_bonus_program_id = False
        self.assertFalse(self.env["loyalty.api"]._check_api_key(key)["program_id"])
        company.loyalty_bonus_program_id = program
        self.assertEqual(
            self.env["loyalty.api"]._check_api_key(key)["program_id"], program.id
        )

    def test_a_members_language_leaves_every_servers_caches_alone(self):
        """Clearing what is kept of the keys clears every server's caches: a
        member (a portal user without API key) who changes their language or
        time zone sets nothing off; the key's user's partner does."""
        user = new_test_user(
            self.env,
            "lc_api_lang",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        key = self._key(user)
        member = new_test_user(self.env, "lc_portal_lang", groups="base.group_portal")
        Api = self.env["loyalty.api"]
        Api._check_api_key(key)
        member.partner_id.write({"lang": "ru_RU", "tz": "Europe/Moscow"})
        with self.assertQueryCount(0):
            Api._check_api_key(key)
        user.partner_id.tz = "Asia/Yekaterinburg"
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        self.assertEqual(Api._check_api_key(key)["tz"], "Asia/Yekaterinburg")
        self.assertEqual(self.env.cr.sql_log_count - before, 1)

    def test_unknown_keys_are_not_kept(self):
        """Keys a client makes up are refused without filling the cache."""
        Api = self.env["loyalty.api"]
        for i in range(3):
            self.assertIsNone(Api._check_api_key(f"made-up-{i}-" + "x" * 30))
        # asked again, the unknown key is looked for again
        before = self.env.cr.sql_log_count
        self.assertIsNone(Api._check_api_key("made-up-0-" + "x" * 30))
        self.assertEqual(self.env.cr.sql_log_count - before, 1)

    # ------------------------------------------------------------ lookup
    def test_an_archived_contact_is_no_member(self):
        """By card as by phone, at the till as through the API: an archived
        contact's card finds no one and takes no points."""
        member = self._member(name="В архиве", phone="+7 916 100-00-05")
        code = member.loyalty_card_id.code
        self.assertEqual(self.api("GET", f"/members/lookup?card={code}")[0], 200)
        member.action_archive()
        for path in (
            f"/members/lookup?card={code}",
            "/members/lookup?phone=89161000005",
        ):
            self.assertError(self.api("GET", path), 404, "not_found")
        before = self.counts()
        self.assertError(
            self.api(
                "POST",
                "/accruals",
                {"card": code, "amount": 100, "idempotency_key": "archived-1"},
            ),
            404,
            "not_found",
        )
        self.assertEqual(self.counts(), before)
        Partner = self.env["res.partner"]
        self.assertFalse(Partner._loyalty_lookup(code))
        self.assertFalse(Partner._loyalty_lookup("+7 916 100-00-05"))

    def test_lookup(self):
        status, payload = self.api("GET", "/members/lookup?phone=8 (916) 123-45-67")
        self.assertEqual(status, 200, payload)
        self.assertEqual(
            payload["member"],
            {
                "id": self.member.id,
                "name": "Анна Петрова",
                "phone": "+79161234567",
                "email": None,
                "card": {"code": self.card.code, "state": "active"},
                "tier": None,
                "balance": {
                    "available": 100.0,
                    "pending": 0.0,
                    "debt": 0.0,
                    # the opening adjustment is a lot like any other
                    "expiring": [
                        {
                            "points": 100.0,
                            "date": self.program._loyalty_expiry_date().isoformat(),
                        }
                    ],
                },
                "referral_code": self.member.loyalty_referral_code,
            },
        )
        status, by_card = self.api("GET", f"/members/lookup?card={self.card.code}")
        self.assertEqual((status, by_card), (200, payload))
        self.assertError(self.api("GET", "/members/lookup"), 400, "bad_request")
        self.assertError(
            self.api("GET", "/members/lookup?card=0430000000000"), 404, "not_found"
        )
        self.assertError(self.api("GET", "/members/lookup?phone=12"), 404, "not_found")

    def test_member_shows_tier_pending_and_expiring(self):
        tier = self.env["loyalty.tier"].create(
            {
                "program_id": self.program.id,
                "name": "Silver",
                "min_spend": 500,
                "multiplier": 1.5,
            }
        )
        status, payload = self._accrue(amount=1000)
        self.assertEqual(status, 201, payload)
        expiry = self.program._loyalty_expiry_date()
        self.assertEqual(
            payload["member"]["balance"]["expiring"],
            [{"points": 150.0, "date": expiry.isoformat()}],  # with the opening 100
        )
        self.assertEqual(
            payload["member"]["tier"], {"name": "Silver", "multiplier": 1.5}
        )
        self.assertEqual(tier.member_count, 1)
        self.program.pending_days = 14
        status, payload = self._accrue(amount=1000, key="acc-2")
        self.assertEqual(status, 201, payload)
        self.assertEqual(payload["transaction"]["state"], "pending")
        self.assertEqual(payload["transaction"]["points"], 75.0)  # x1.5
        self.assertEqual(
            payload["member"]["balance"],
            {
                "available": 150.0,
                "pending": 75.0,
                "debt": 0.0,
                "expiring": [{"points": 150.0, "date": expiry.isoformat()}],
            },
        )
        # tiers are kept per process (issue #14): a change shows at once
        tier.write({"name": "Gold", "multiplier": 2})
        status, payload = self.api("GET", f"/members/lookup?card={self.card.code}")
        self.assertEqual(status, 200, payload)
        self.assertEqual(payload["member"]["tier"], {"name": "Gold", "multiplier": 2})

    # ------------------------------------------------------------ enrolment
    def test_create_member(self):
        before = self.counts()
        body = {
            "name": "Boris Ivanov",
            "phone": "8 903 555 12 34",
            "email": "boris@example.com",
            "birthdate": "1990-05-17",
            "gender": "male",
            "marital_status": "married",
            "employment": "self_employed",
            "channels": ["sms", "email"],
            "consent": True,
            "source": "Mobile app",
            "referral_code": self.member.loyalty_referral_code,
            "unknown_field": "ignored",
        }
        status, payload = self.api("POST", "/members", body)
        self.assertEqual(status, 201, payload)
        member = payload["member"]
        self.assertEqual(member["phone"], "+79035551234")
        self.assertEqual(member["card"]["state"], "active")
        partner = self.env["res.partner"].browse(member["id"])
        self.assertEqual(partner.loyalty_referrer_id, self.member)
        self.assertEqual(partner.loyalty_source_id.name, "Mobile app")
        self.assertEqual(
            set(partner.loyalty_channel_ids.mapped("code")), {"sms", "email"}
        )
        self.assertTrue(partner.loyalty_marketing_consent)
        self.assertEqual(partner.loyalty_consent_ids.source, "api")
        self.assertEqual(partner.loyalty_gender, "male")
        after = self.counts()
        self.assertEqual(after["res.partner"], before["res.partner"] + 1)
        # the same phone again, in another notation
        self.assertError(
            self.api("POST", "/members", dict(body, phone="+7 903 555-12-34")),
            409,
            "duplicate_member",
        )
        self.assertError(
            self.api("POST", "/members", dict(body, phone="12345")),
            422,
            "invalid_phone",
        )
        for field, value in (
            ("gender", "robot"),
            ("marital_status", "complicated"),
            ("employment", "astronaut"),
            ("channels", ["pigeon"]),
            ("birthdate", "1990-02-30"),
            ("email", "not-an-email"),
            ("referral_code", "NOSUCHCODE"),
        ):
            with self.subTest(field=field):
                self.assertError(
                    self.api(
                        "POST",
                        "/members",
                        dict(body, phone="+79035550000", **{field: value}),
                    ),
                    422,
                    "validation_error",
                )
        self.assertError(
            self.api("POST", "/members", {"phone": "+79035550000"}), 400, "bad_request"
        )
        self.assertError(
            self.api(
                "POST",
                "/members",
                {"name": "X", "phone": "+79035550000", "consent": "yes"},
            ),
            400,
            "bad_request",
        )
        self.assertEqual(self.counts(), after)

    def test_create_member_required_questionnaire(self):
        self.company.loyalty_required_field_ids = self.env["ir.model.fields"]._get(
            "res.partner", "email"
        )
        before = self.counts()
        self.assertError(
            self.api("POST", "/members", {"name": "Vera", "phone": "+79035550001"}),
            422,
            "validation_error",
        )
        self.assertEqual(self.counts(), before)

    def test_create_member_idempotent(self):
        body = {"name": "Galina", "phone": "+79035550002", "idempotency_key": "m-1"}
        status, first = self.api("POST", "/members", body)
        self.assertEqual(status, 201)
        before = self.counts()
        self.assertEqual(self.api("POST", "/members", body), (200, first))
        self.assertEqual(self.counts(), before)
        self.assertError(
            self.api("POST", "/members", dict(body, name="Galina P.")),
            409,
            "idempotency_conflict",
        )

    # ------------------------------------------------------------ history
    def test_transactions(self):
        self._accrue(amount=1000, key="t1", reference="R-1")
        self.api(
            "POST",
            "/redemptions",
            {
                "card": self.card.code,
                "points": 10,
                "order_amount": 100,
                "idempotency_key": "t2",
            },
        )
        status, payload = self.api("GET", f"/members/{self.member.id}/transactions")
        self.assertEqual(status, 200, payload)
        self.assertEqual(payload["total"], 3)
        types = [t["type"] for t in payload["transactions"]]
        self.assertEqual(types, ["redemption", "accrual", "adjustment"])
        tx = payload["transactions"][1]
        self.assertEqual(
            {k: tx[k] for k in ("type", "points", "state", "reference", "partner")},
            {
                "type": "accrual",
                "points": 50.0,
                "state": "available",
                "reference": "R-1",
                "partner": None,
            },
        )
        self.assertRegex(tx["created_at"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
        status, page = self.api(
            "GET", f"/members/{self.member.id}/transactions?limit=1&offset=1"
        )
        self.assertEqual(status, 200)
        self.assertEqual(page["total"], 3)
        self.assertEqual([t["id"] for t in page["transactions"]], [tx["id"]])
        for query in ("limit=201", "limit=0", "limit=abc", "offset=-1", "limit=1.5"):
            with self.subTest(query=query):
                self.assertError(
                    self.api("GET", f"/members/{self.member.id}/transactions?{query}"),
                    400,
                    "bad_request",
                )
        self.assertError(self.api("GET", "/members/0/transactions"), 404, "not_found")
        self.assertError(
            self.api("GET", "/members/99999999999999/transactions"), 404, "not_found"
        )
        not_member = self.env["res.partner"].create({"name": "Not a member"})
        self.assertError(
            self.api("GET", f"/members/{not_member.id}/transactions"), 404, "not_found"
        )

    # ------------------------------------------------------------ accruals
    def test_accrual_and_replays(self):
        before = self.counts()
        status, first = self._accrue(amount=2000, reference="Check 17")
        self.assertEqual(status, 201, first)
        self.assertEqual(first["transaction"]["points"], 100.0)
        self.assertEqual(first["transaction"]["type"], "accrual")
        self.assertEqual(first["member"]["balance"]["available"], 200.0)
        after = self.counts()
        self.assertEqual(after["loyalty.ledger"], before["loyalty.ledger"] + 1)
        self.assertEqual(
            after["loyalty.api.request"], before["loyalty.api.request"] + 1
        )
        # same key, same body: the first answer again, status 200, nothing written
        self.assertEqual(self._accrue(amount=2000, reference="Check 17"), (200, first))
        self.assertEqual(self.counts(), after)
        # same key, another body
        self.assertError(self._accrue(amount=2001), 409, "idempotency_conflict")
        # by phone, with lines
        product = self.env["product.product"].create(
            {"name": "Tea", "default_code": "TEA-1"}
        )
        self.assertTrue(product)
        status, payload = self.api(
            "POST",
            "/accruals",
            {
                "phone": "+7 916 123 45 67",
                "amount": 300,
                "idempotency_key": "acc-2",
                "lines": [
                    {"sku": "TEA-1", "category": "Drinks", "qty": 2, "amount": 200},
                    {"sku": "UNKNOWN", "qty": 1, "amount": 100},
                ],
            },
        )
        self.assertEqual(status, 201, payload)
        self.assertEqual(payload["transaction"]["points"], 15.0)
        self.assertEqual(self.card.points, 215)

    def test_replay_after_the_answer_was_forgotten(self):
        """Answers are kept 90 days; a replay after that still posts nothing
        twice: the ledger's own key finds the first entry."""
        status, first = self._accrue(amount=500, key="old-1")
        self.assertEqual(status, 201, first)
        balance = self.card.points
        self.env.cr.execute(
            "UPDATE loyalty_api_request SET create_date = create_date"
            " - interval '91 days' WHERE idempotency_key = 'old-1'"
        )
        self.env["loyalty.api.request"]._gc_old_requests()
        self.assertFalse(
            self.env["loyalty.api.request"].search([("idempotency_key", "=", "old-1")])
        )
        before = self.counts()
        status, again = self._accrue(amount=500, key="old-1")
        self.assertEqual(status, 201, again)
        self.assertEqual(again["transaction"], first["transaction"])
        after = self.counts()
        self.assertEqual(after["loyalty.ledger"], before["loyalty.ledger"])
        self.card.invalidate_recordset()
        self.assertEqual(self.card.points, balance)
        # and it is remembered again: the next replay is answered from it
        self.assertEqual(self._accrue(amount=500, key="old-1"), (200, again))

    def test_accrual_refusals(self):
        self._accrue(key="seed")
        before = self.counts()
        self.assertError(
            self.api(
                "POST",
                "/accruals",
                {"card": "0430000000000", "amount": 10, "idempotency_key": "x"},
            ),
            404,
            "not_found",
        )
        self.assertError(self._accrue(amount=-5, key="neg"), 422, "validation_error")
        self.assertError(self._accrue(amount=0, key="zero"), 422, "validation_error")
        self.assertError(
            self._accrue(amount=10.001, key="dec"), 422, "validation_error"
        )
        self.assertError(
            self._accrue(amount=1e300, key="huge"), 422, "validation_error"
        )
        self.assertError(self._accrue(amount="10", key="str"), 400, "bad_request")
        self.assertError(self._accrue(amount=True, key="bool"), 400, "bad_request")
        self.assertError(self._accrue(key="k" * 129), 400, "bad_request")
        self.assertError(
            self.api("POST", "/accruals", {"card": self.card.code, "amount": 10}),
            400,
            "bad_request",
        )
        self.assertError(
            self.api("POST", "/accruals", {"amount": 10, "idempotency_key": "nocard"}),
            400,
            "bad_request",
        )
        self.card.with_user(self.cashier).action_loyalty_block(reason="stolen")
        before = self.counts()
        self.assertError(self._accrue(key="blocked"), 422, "card_blocked")
        self.assertEqual(self.counts(), before)

    # ------------------------------------------------------------ redemptions
    def _redeem(self, points, order_amount=1000, key="red-1"):
        return self.api(
            "POST",
            "/redemptions",
            {
                "card": self.card.code,
                "points": points,
                "order_amount": order_amount,
                "idempotency_key": key,
            },
        )

    def test_redemptions(self):
        status, first = self._redeem(40)
        self.assertEqual(status, 201, first)
        self.assertEqual(first["transaction"]["points"], -40.0)
        self.assertEqual(first["transaction"]["state"], "posted")
        self.assertEqual(first["member"]["balance"]["available"], 60.0)
        before = self.counts()
        self.assertEqual(self._redeem(40), (200, first))
        self.assertError(self._redeem(41), 409, "idempotency_conflict")
        self.assertError(self._redeem(61, key="r2"), 422, "insufficient_points")
        self.assertError(
            self._redeem(31, order_amount=100, key="r3"), 422, "redemption_cap_exceeded"
        )
        self.assertError(self._redeem(-1, key="r4"), 422, "validation_error")
        self.assertError(
            self._redeem(1, order_amount=0, key="r5"), 422, "validation_error"
        )
        self.card.with_user(self.cashier).action_loyalty_block(reason="stolen")
        self.assertError(self._redeem(1, key="r6"), 422, "card_blocked")
        self.assertEqual(self.counts(), before)

    # ------------------------------------------------------------ reversals
    def test_reversals(self):
        _status, accrual = self._accrue(amount=2000)
        tx_id = accrual["transaction"]["id"]
        status, partial = self.api(
            "POST",
            f"/transactions/{tx_id}/reversal",
            {"idempotency_key": "rev-1", "amount": 500},
        )
        self.assertEqual(status, 201, partial)
        self.assertEqual(partial["transaction"]["type"], "reversal")
        self.assertEqual(partial["transaction"]["points"], -25.0)
        self.assertEqual(partial["member"]["balance"]["available"], 175.0)
        self.assertEqual(
            self.api(
                "POST",
                f"/transactions/{tx_id}/reversal",
                {"idempotency_key": "rev-1", "amount": 500},
            ),
            (200, partial),
        )
        self.assertError(
            self.api(
                "POST", f"/transactions/{tx_id}/reversal", {"idempotency_key": "rev-1"}
            ),
            409,
            "idempotency_conflict",
        )
        before = self.counts()
        self.assertError(
            self.api(
                "POST",
                f"/transactions/{tx_id}/reversal",
                {"idempotency_key": "rev-2", "amount": 1600},
            ),
            422,
            "validation_error",
        )
        self.assertEqual(self.counts(), before)
        status, rest = self.api(
            "POST", f"/transactions/{tx_id}/reversal", {"idempotency_key": "rev-3"}
        )
        self.assertEqual(status, 201, rest)
        self.assertEqual(rest["member"]["balance"]["available"], 100.0)
        self.assertError(
            self.api(
                "POST", f"/transactions/{tx_id}/reversal", {"idempotency_key": "rev-4"}
            ),
            409,
            "already_reversed",
        )
        self.assertError(
            self.api(
                "POST", "/transactions/999999999/reversal", {"idempotency_key": "rev-5"}
            ),
            404,
            "not_found",
        )
        # a redemption is given back
        _status, spent = self._redeem(30)
        status, back = self.api(
            "POST",
            f"/transactions/{spent['transaction']['id']}/reversal",
            {"idempotency_key": "rev-6"},
        )
        self.assertEqual(status, 201, back)
        self.assertEqual(back["transaction"]["points"], 30.0)
        # adjustments can't be reversed
        adjustment = self.card.ledger_ids.filtered(
            lambda e: e.entry_type == "adjustment"
        )
        self.assertError(
            self.api(
                "POST",
                f"/transactions/{adjustment.id}/reversal",
                {"idempotency_key": "rev-7"},
            ),
            422,
            "validation_error",
        )

    # ------------------------------------------------------------ adjustments
    def test_adjustments(self):
        body = {
            "card": self.card.code,
            "points": 25.5,
            "reason": "migration",
            "idempotency_key": "adj-1",
        }
        before = self.counts()
        self.assertError(self.api("POST", "/adjustments", body), 403, "forbidden")
        self.assertEqual(self.counts(), before)
        status, first = self.api("POST", "/adjustments", body, key=self.manager_key)
        self.assertEqual(status, 201, first)
        self.assertEqual(first["transaction"]["type"], "adjustment")
        self.assertEqual(first["transaction"]["state"], "available")
        self.assertEqual(first["member"]["balance"]["available"], 125.5)
        self.assertEqual(
            self.api("POST", "/adjustments", body, key=self.manager_key), (200, first)
        )
        status, negative = self.api(
            "POST",
            "/adjustments",
            dict(body, points=-25.5, idempotency_key="adj-2"),
            key=self.manager_key,
        )
        self.assertEqual(status, 201, negative)
        self.assertEqual(negative["member"]["balance"]["available"], 100.0)
        before = self.counts()
        self.assertError(
            self.api(
                "POST",
                "/adjustments",
                dict(body, points=-100.01, idempotency_key="adj-3"),
                key=self.manager_key,
            ),
            422,
            "insufficient_points",
        )
        self.assertError(
            self.api(
                "POST",
                "/adjustments",
                dict(body, points=0, idempotency_key="adj-4"),
                key=self.manager_key,
            ),
            422,
            "validation_error",
        )
        self.assertError(
            self.api(
                "POST",
                "/adjustments",
                dict(body, reason="", idempotency_key="adj-5"),
                key=self.manager_key,
            ),
            400,
            "bad_request",
        )
        self.assertError(
            self.api(
                "POST",
                "/adjustments",
                dict(body, card="0430000000000", idempotency_key="adj-6"),
                key=self.manager_key,
            ),
            404,
            "not_found",
        )
        self.assertEqual(self.counts(), before)

    # ------------------------------------------------------------ cards
    def test_replace_card(self):
        old_code = self.card.code
        self._accrue(amount=1000)
        # choosing the new card's number is a Loyalty Manager's (key's) decision
        before = self.counts()
        self.assertError(
            self.api(
                "POST", f"/cards/{old_code}/replace", {"new_code": "0439999999994"}
            ),
            403,
            "forbidden",
        )
        self.assertEqual(self.counts(), before)
        status, payload = self.api(
            "POST",
            f"/cards/{old_code}/replace",
            {"new_code": "0439999999994"},
            key=self.manager_key,
        )
        self.assertEqual(status, 201, payload)
        self.assertEqual(
            payload["member"]["card"], {"code": "0439999999994", "state": "active"}
        )
        self.assertEqual(payload["member"]["balance"]["available"], 150.0)
        self.assertEqual(self.card.loyalty_state, "replaced")
        self.assertEqual(self.card.points, 0)
        status, history = self.api("GET", f"/members/{self.member.id}/transactions")
        self.assertEqual(status, 200)
        # adjustment, accrual, transfer out, and in lot by lot (two lots)
        self.assertEqual(history["total"], 5)
        other = self._member("Other", "+79165550000")
        before = self.counts()
        self.assertError(
            self.api("POST", f"/cards/{old_code}/replace", {}), 409, "card_not_active"
        )
        self.assertError(
            self.api("POST", "/cards/0430000000000/replace", {}), 404, "not_found"
        )
        self.assertError(
            self.api(
                "POST",
                f"/cards/{other.loyalty_card_code}/replace",
                {"new_code": "0439999999994"},
                key=self.manager_key,
            ),
            422,
            "validation_error",
        )
        self.assertEqual(self.counts(), before)
        # the old card no longer identifies anyone; the new one does
        self.assertError(
            self.api("GET", f"/members/lookup?card={old_code}"), 404, "not_found"
        )
        self.assertEqual(self.api("GET", "/members/lookup?card=0439999999994")[0], 200)

    # ------------------------------------------------------------ malformed
    def test_malformed_requests_write_nothing(self):
        before = self.counts()
        good = json.dumps(
            {"card": self.card.code, "amount": 10, "idempotency_key": "m"}
        )
        cases = [
            (good, "text/plain", "unsupported_media_type"),
            (good, None, "unsupported_media_type"),
            ("{not json", "application/json", "malformed_json"),
            ("", "application/json", "malformed_json"),
            ("[1, 2]", "application/json", "bad_request"),
            (
                '{"card": "1", "amount": NaN, "idempotency_key": "m"}',
                "application/json",
                "malformed_json",
            ),
            (
                '{"card": "1", "amount": Infinity, "idempotency_key": "m"}',
                "application/json",
                "malformed_json",
            ),
            (b"\xff\xfe", "application/json", "malformed_json"),
            ("[" * 100000, "application/json", "body_too_large"),
            (
                '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
                "application/json",
                "malformed_json",
            ),
        ]
        for raw, content_type, code in cases:
            with self.subTest(code=code, raw=raw[:30]):
                self.assertError(
                    self.api("POST", "/accruals", raw=raw, content_type=content_type),
                    400,
                    code,
                )
        self.assertEqual(self.counts(), before)

    def test_hot_paths_query_counts(self):
        """Lookup, accrual and redemption stay O(1) in the size of the data."""
        service = self.env["loyalty.api"]._for_user(self.api_user.id)
        code = self.card.code
        calls = [
            ("lookup", {}, {"card": code}, None, 2),
            (
                "accrue",
                {},
                {},
                {"card": code, "amount": 100, "idempotency_key": "q-1"},
                10,  # 24 before the rules were cached, 15 before one INSERT per entry
            ),
            (
                "redeem",
                {},
                {},
                {
                    "card": code,
                    "points": 1,
                    "order_amount": 100,
                    "idempotency_key": "q-2",
                },
                8,  # 19 before, 13 before one INSERT per entry (issue #14)
            ),
        ]
        for operation, args, query, body, count in calls:
            # warm Odoo's caches (groups, registry) with the same kind of call
            warm = body and dict(body, idempotency_key=body["idempotency_key"] + "w")
            service.handle(operation, args, query, warm)
            self.env.invalidate_all()
            with self.subTest(operation=operation), self.assertQueryCount(count):
                service.handle(operation, args, query, body)

    def test_request_replayed_after_a_serialization_failure(self):
        """Odoo replays a request whose transaction hit a concurrent update: the
        body must still be there the second time."""
        original = api_controller.run_with_retries
        calls = []

        def conflicting_once(env, uid, operation, *args, **kwargs):
            calls.append(operation)
            if len(calls) == 1:
                env.cr.execute(
                    "DO $$ BEGIN RAISE EXCEPTION 'concurrent update' "
                    "USING ERRCODE = '40001'; END $$"
                )
            return original(env, uid, operation, *args, **kwargs)

        with (
            patch.object(api_controller, "run_with_retries", conflicting_once),
            mute_logger("odoo.sql_db", "odoo.service.model"),
        ):
            status, payload = self._accrue(amount=1000, key="retry-1")
        self.assertEqual(status, 201, payload)
        self.assertEqual(calls, ["accrue", "accrue"])
        self.assertEqual(self.card.points, 150)

    def test_service_call_replayed_after_a_serialization_failure(self):
        original = LoyaltyApi.handle
        calls = []

        def conflicting_once(service, *args):
            calls.append(args[0])
            if len(calls) == 1:
                service.env.cr.execute(
                    "DO $$ BEGIN RAISE EXCEPTION 'concurrent update' "
                    "USING ERRCODE = '40001'; END $$"
                )
            return original(service, *args)

        with (
            patch.object(LoyaltyApi, "handle", conflicting_once),
            mute_logger("odoo.sql_db"),
        ):
            status, payload = self._accrue(amount=1000, key="retry-2")
        self.assertEqual(status, 201, payload)
        self.assertEqual(calls, ["accrue", "accrue"])
        self.assertEqual(self.card.points, 150)

    def test_old_idempotency_records_are_cleaned_up(self):
        status, first = self._accrue(amount=1000, key="old-1")
        self.assertEqual(status, 201)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE loyalty_api_request SET create_date = create_date - interval "
            "'91 days' WHERE idempotency_key = 'old-1'"
        )
        self.env["loyalty.api.request"]._gc_old_requests()
        self.assertFalse(
            self.env["loyalty.api.request"].search([("idempotency_key", "=", "old-1")])
        )
        # a replay after that still posts nothing twice (the ledger's own key)
        before = self.counts()
        status, again = self._accrue(amount=1000, key="old-1")
        self.assertEqual(status, 201)
        self.assertEqual(again["transaction"]["id"], first["transaction"]["id"])
        self.assertEqual(self.counts()["loyalty.ledger"], before["loyalty.ledger"])

    def test_every_described_status_answers(self):
        """One request per (route, status) of the OpenAPI document: each status
        described is one the route really answers, and only those."""
        code = self.card.code
        adjustment = self.card.ledger_ids
        observed = {}

        def check(operation, status, path, body=None, key=None, method="POST"):
            got, payload = self.api(method, path, body, key=key)
            self.assertEqual(got, status, (operation, path, body, payload))
            observed.setdefault(operation, set()).add(got)
            return payload

        for operation, path in (
            ("lookup", "/members/lookup?card=" + code),
            ("transactions", f"/members/{self.member.id}/transactions"),
        ):
            check(operation, 200, path, method="GET")
            check(operation, 401, path, key=False, method="GET")
            check(operation, 403, path, key=self.not_api_key, method="GET")
        check("lookup", 400, "/members/lookup", method="GET")
        check("lookup", 404, "/members/lookup?card=0", method="GET")
        check("transactions", 400, "/members/1/transactions?limit=0", method="GET")
        check("transactions", 404, "/members/0/transactions", method="GET")

        new = {"name": "Dora", "phone": "+79031112233", "idempotency_key": "st-m"}
        accrual = {"card": code, "amount": 1000, "idempotency_key": "st-a"}
        redemption = {
            "card": code,
            "points": 10,
            "order_amount": 100,
            "idempotency_key": "st-r",
        }
        adjust = {"card": code, "points": 5, "reason": "x", "idempotency_key": "st-j"}
        bodies = {
            "create_member": ("/members", new, "name", "+79161234567"),
            "accrue": ("/accruals", accrual, "amount", -1),
            "redeem": ("/redemptions", redemption, "points", 10**6),
            "adjust": ("/adjustments", adjust, "points", 0),
        }
        for operation, (path, body, field, refused) in bodies.items():
            key = self.manager_key if operation == "adjust" else None
            check(operation, 201, path, body, key=key)
            check(operation, 200, path, body, key=key)
            check(operation, 400, path, dict(body, **{field: [1]}), key=key)
            check(operation, 401, path, body, key=False)
            check(operation, 403, path, body, key=self.not_api_key)
            if operation == "create_member":
                check(operation, 409, path, dict(body, idempotency_key="st-m2"))
                check(operation, 422, path, dict(body, phone="1", idempotency_key="x"))
                continue
            check(operation, 404, path, dict(body, card="0", idempotency_key="n"), key)
            check(operation, 409, path, dict(body, **{field: body[field] + 1}), key)
            check(
                operation,
                422,
                path,
                dict(body, idempotency_key="y", **{field: refused}),
                key,
            )
        check("adjust", 403, "/adjustments", dict(adjust, idempotency_key="z"))

        tx = self.Ledger.search([("idempotency_key", "like", "%/st-a")])
        path = f"/transactions/{tx.id}/reversal"
        reversal = {"idempotency_key": "st-v"}
        check("reverse", 201, path, reversal)
        check("reverse", 200, path, reversal)
        check("reverse", 400, path, {"idempotency_key": 7})
        check("reverse", 401, path, reversal, key=False)
        check("reverse", 403, path, reversal, key=self.not_api_key)
        check("reverse", 404, "/transactions/0/reversal", {"idempotency_key": "n"})
        check("reverse", 409, path, {"idempotency_key": "st-v2"})
        check(
            "reverse",
            422,
            f"/transactions/{adjustment.id}/reversal",
            {"idempotency_key": "w"},
        )

        path = f"/cards/{code}/replace"
        replace = {"idempotency_key": "st-c"}
        check("replace_card", 401, path, replace, key=False)
        check("replace_card", 403, path, replace, key=self.not_api_key)
        check("replace_card", 400, path, {"new_code": 5})
        check("replace_card", 422, path, {"new_code": "no spaces allowed"})
        check("replace_card", 404, "/cards/0/replace", replace)
        check("replace_card", 201, path, replace)
        check("replace_card", 200, path, replace)
        check("replace_card", 409, path, {"idempotency_key": "st-c2"})

        # extension v1.2: the SMS code of a redemption by phone
        path, phone = "/redemptions/otp", {"phone": self.member.loyalty_phone}
        check("request_otp", 401, path, phone, key=False)
        check("request_otp", 403, path, phone, key=self.not_api_key)
        check("request_otp", 400, path, {"phone": 5})
        check("request_otp", 404, path, {"phone": "+79990000000"})
        check("request_otp", 201, path, phone)
        check("request_otp", 429, path, phone)
        self.program.spend_otp = False
        check("request_otp", 422, path, phone)

        self.assertEqual(
            observed, {name: set(op["statuses"]) for name, op in OPERATIONS.items()}
        )
