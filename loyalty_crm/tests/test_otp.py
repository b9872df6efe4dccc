"""Spending by phone needs the member: the SMS code at the till and in the API."""

import datetime
import json
import re
import threading
import uuid as uuid_lib
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.point_of_sale.tests import test_frontend as pos_frontend

from ..models import loyalty_otp
from ..tools import LoyaltyError
from .api_common import ApiCase
from .pos_common import PosLoyaltyCase
from .test_reliability import CommittedCase


def _sms_code(env, phone):
    sms = env["sms.sms"].sudo().search([("number", "=", phone)], order="id desc")
    match = re.search(r"\b(\d{6})\b", sms[:1].body or "")
    return match and match.group(1)


@tagged("post_install", "-at_install")
class TestOtpAtTheTill(PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write({"welcome_points": 0, "min_balance_to_spend": 0})
        cls.member = cls._member(phone="+7 916 700-00-01")
        cls.card = cls.member.loyalty_card_id
        cls.Ledger._post(cls.card, 500, "adjustment", reason="seed")
        cls.till = cls.config.with_user(cls.pos_cashier)

    def _reserve(self, uuid, points, identification=None):
        return self.till.loyalty_crm_reserve(
            uuid, self.member.id, points, 1000, identification
        )

    def _request(self):
        answer = self.till.loyalty_crm_otp_request(self.member.id)
        self.assertTrue(answer["ok"], answer)
        return answer["otp_id"], _sms_code(self.env, "+79167000001")

    def _age(self, otp_id, seconds):
        """Move a code ``seconds`` into the past (sent and expiry)."""
        otp = self.env["loyalty.otp"].sudo().browse(otp_id)
        delta = datetime.timedelta(seconds=seconds)
        otp.write(
            {"sent_at": otp.sent_at - delta, "expires_at": otp.expires_at - delta}
        )

    def test_phone_needs_the_code_card_does_not(self):
        uuid = str(uuid_lib.uuid4())
        answer = self._reserve(uuid, 100)
        self.assertEqual(answer["code"], "otp_required", answer)
        self.assertIn("+7 ••• •••-00-01", answer["message"])
        self.assertEqual(self.card.points, 500)  # nothing held
        # a scanned card needs no code; a wrong card number is no card
        self.assertEqual(
            self._reserve(uuid, 100, {"card": "0430000000000"})["code"], "otp_required"
        )
        self.assertTrue(self._reserve(uuid, 100, {"card": self.card.code})["ok"])
        # releasing (0 points) never needs a code
        self.assertTrue(self._reserve(uuid, 0)["ok"])
        self.assertEqual(self.card.points, 500)
        # the program may not ask for it
        self.program.spend_otp = False
        self.assertTrue(self._reserve(str(uuid_lib.uuid4()), 100)["ok"])

    def test_code_flow_wrong_then_right(self):
        uuid = str(uuid_lib.uuid4())
        otp_id, code = self._request()
        self.assertTrue(code)
        sms = self.env["sms.sms"].sudo().search([("number", "=", "+79167000001")])
        self.assertEqual(sms.state, "outgoing")  # queued: sent after the commit
        otp = self.env["loyalty.otp"].sudo().browse(otp_id)
        self.assertNotIn(code, otp.code_hash)  # only a keyed hash is kept
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        answer = self._reserve(uuid, 100, {"otp_id": otp_id, "code": wrong})
        self.assertEqual(answer["code"], "otp_invalid")
        self.assertIn("2 attempts left", answer["message"])
        self.assertEqual(otp.attempts, 1)
        answer = self._reserve(uuid, 100, {"otp_id": otp_id, "code": code})
        self.assertTrue(answer["ok"], answer)
        self.assertEqual(self.card.points, 400)
        # the same order may change its points without a new code
        self.assertTrue(self._reserve(uuid, 150)["ok"])
        self.assertEqual(self.card.points, 350)
        # another order needs a new code, and the used one doesn't do
        other = str(uuid_lib.uuid4())
        self.assertEqual(self._reserve(other, 10)["code"], "otp_required")
        answer = self._reserve(other, 10, {"otp_id": otp_id, "code": code})
        self.assertEqual(answer["code"], "otp_used")

    def test_three_attempts_then_blocked(self):
        otp_id, code = self._request()
        uuid = str(uuid_lib.uuid4())
        for left in ("2 attempts", "1 attempts"):
            answer = self._reserve(uuid, 50, {"otp_id": otp_id, "code": "000000x"})
            self.assertIn(left, answer["message"])
        answer = self._reserve(uuid, 50, {"otp_id": otp_id, "code": "999999"})
        if code == "999999":  # one chance in a million
            return
        self.assertEqual(answer["code"], "otp_blocked")
        # even the right code is refused now
        answer = self._reserve(uuid, 50, {"otp_id": otp_id, "code": code})
        self.assertEqual(answer["code"], "otp_blocked")
        self.assertEqual(self.card.points, 500)

    def test_expired_code(self):
        otp_id, code = self._request()
        self._age(otp_id, 301)
        answer = self._reserve(
            str(uuid_lib.uuid4()), 50, {"otp_id": otp_id, "code": code}
        )
        self.assertEqual(answer["code"], "otp_expired")
        self.assertIn("5 minutes", answer["message"])

    def test_resend_is_rate_limited_and_replaces_the_code(self):
        first, first_code = self._request()
        answer = self.till.loyalty_crm_otp_request(self.member.id)
        self.assertEqual(answer["code"], "otp_rate_limited")
        self.assertIn("seconds", answer["message"])
        self._age(first, 61)
        second, second_code = self._request()
        uuid = str(uuid_lib.uuid4())
        answer = self._reserve(uuid, 50, {"otp_id": first, "code": first_code})
        self.assertEqual(answer["code"], "otp_invalid")
        self.assertIn("newer code", answer["message"])
        self.assertTrue(
            self._reserve(uuid, 50, {"otp_id": second, "code": second_code})["ok"]
        )
        # five codes an hour at most
        for _i in range(3):
            self._age(self.env["loyalty.otp"].sudo().search([], limit=1).id, 61)
            self._request()
        self._age(self.env["loyalty.otp"].sudo().search([], limit=1).id, 61)
        answer = self.till.loyalty_crm_otp_request(self.member.id)
        self.assertEqual(answer["code"], "otp_rate_limited")
        self.assertIn("within an hour", answer["message"])

    def test_a_code_of_another_member_or_forged_ids(self):
        other = self._member(name="Олег", phone="+7 916 700-00-02")
        otp = self.env["loyalty.otp"]._loyalty_request(other.loyalty_card_id, "pos")
        code = _sms_code(self.env, "+79167000002")
        uuid = str(uuid_lib.uuid4())
        for forged in (
            {"otp_id": otp.id, "code": code},
            {"otp_id": "1; DROP TABLE", "code": code},
            {"otp_id": 2**40, "code": code},
            {"otp_id": True, "code": code},
            {"otp_id": otp.id, "code": ["123456"]},
            "not a dict",
        ):
            answer = self._reserve(uuid, 50, forged)
            self.assertFalse(answer["ok"], forged)
            self.assertIn(answer["code"], ("otp_invalid", "otp_required"), forged)
        self.assertEqual(self.card.points, 500)

    def test_cashiers_never_read_codes(self):
        self._request()
        with self.assertRaises(AccessError):
            self.env["loyalty.otp"].with_user(self.pos_cashier).search([]).read(
                ["state"]
            )
        with self.assertRaises(AccessError):
            self.env["loyalty.otp"].with_user(self.manager).search([]).read(
                ["code_hash"]
            )
        with self.assertRaises(AccessError):
            self.env["sms.sms"].with_user(self.pos_cashier).search([]).read(["body"])

    def test_accrual_needs_no_code(self):
        entry = self.Ledger._accrue_purchase(self.card, 1000, "otp-accrual")
        self.assertGreater(entry.points, 0)


@tagged("post_install", "-at_install")
class TestOtpApi(ApiCase):
    """Redemptions by phone over HTTP: the two-step call (extension v1.2)."""

    def _redeem(self, key, **extra):
        body = dict(
            {"phone": "8 916 123-45-67", "points": 10, "order_amount": 1000},
            idempotency_key=key,
            **extra,
        )
        return self.api("POST", "/redemptions", body)

    def _otp(self):
        status, body = self.api("POST", "/redemptions/otp", {"phone": "+79161234567"})
        self.assertEqual(status, 201, body)
        return body["otp"], _sms_code(self.env, "+79161234567")

    def test_two_step_redemption_by_phone(self):
        self.assertError(self._redeem("r1"), 422, "otp_required")
        otp, code = self._otp()
        self.assertEqual(otp["phone"], "+7 ••• •••-45-67")
        self.assertEqual(otp["attempts_left"], 3)
        self.assertEqual(otp["resend_after_seconds"], 60)
        self.assertTrue(otp["expires_at"].endswith("Z"))
        before = self.counts()
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        self.assertError(
            self._redeem("r1", otp_id=otp["id"], otp_code=wrong), 422, "otp_invalid"
        )
        # the refusal rolled the request back, but the attempt was counted
        self.assertEqual(self.counts(), before)
        record = self.env["loyalty.otp"].sudo().browse(otp["id"])
        record.invalidate_recordset()
        self.assertEqual(record.attempts, 1)
        status, body = self._redeem("r1", otp_id=otp["id"], otp_code=code)
        self.assertEqual(status, 201, body)
        self.assertEqual(body["member"]["balance"]["available"], 90)
        # the same request again: the stored answer, no code check, nothing written
        self.assertEqual(self._redeem("r1", otp_id=otp["id"], otp_code=code)[0], 200)
        # another redemption with the used code
        self.assertError(
            self._redeem("r2", otp_id=otp["id"], otp_code=code), 422, "otp_used"
        )
        self.assertEqual(self.card.points, 90)

    def test_attempts_exhausted_over_http(self):
        otp, code = self._otp()
        for _i in range(2):
            self.assertError(
                self._redeem("x", otp_id=otp["id"], otp_code="abc"), 422, "otp_invalid"
            )
        self.assertError(
            self._redeem("x", otp_id=otp["id"], otp_code="abc"), 422, "otp_blocked"
        )
        self.assertError(
            self._redeem("x", otp_id=otp["id"], otp_code=code), 422, "otp_blocked"
        )
        self.assertEqual(self.card.points, 100)

    def test_v1_clients_keep_working(self):
        # the card given: v1 behaviour, no code
        status, _body = self.api(
            "POST",
            "/redemptions",
            {
                "card": self.card.code,
                "points": 10,
                "order_amount": 1000,
                "idempotency_key": "c1",
            },
        )
        self.assertEqual(status, 201)
        # accruals by phone need no code
        status, _body = self.api(
            "POST",
            "/accruals",
            {"phone": "+79161234567", "amount": 100, "idempotency_key": "a1"},
        )
        self.assertEqual(status, 201)
        # the option off: phone redemptions as in v1
        self.program.spend_otp = False
        self.assertEqual(self._redeem("p1")[0], 201)
        self.assertError(
            self.api("POST", "/redemptions/otp", {"phone": "+79161234567"}),
            422,
            "validation_error",
        )

    def test_otp_request_refusals(self):
        self.assertError(
            self.api("POST", "/redemptions/otp", {"phone": "+79990000000"}),
            404,
            "not_found",
        )
        self.assertError(self.api("POST", "/redemptions/otp", {}), 400, "bad_request")
        self._otp()
        self.assertError(
            self.api("POST", "/redemptions/otp", {"phone": "+79161234567"}),
            429,
            "otp_rate_limited",
        )
        self.assertError(
            self.api("POST", "/redemptions/otp", {"phone": "+79161234567"}, key=False),
            401,
            "unauthorized",
        )
        self.assertError(
            self.api(
                "POST",
                "/redemptions/otp",
                {"phone": "+79161234567"},
                key=self.not_api_key,
            ),
            403,
            "forbidden",
        )
        self.assertError(
            self._redeem("f1", otp_id=1.5, otp_code="123456"), 422, "validation_error"
        )


class _SMSProvider(BaseHTTPRequestHandler):
    """A local SMS provider answering like Odoo's IAP SMS service; keeps the texts."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        numbers = []
        for message in body["params"]["messages"]:
            for number in message["numbers"]:
                numbers.append(number)
                self.server.received.append((number["number"], message["content"]))
        data = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": body.get("id"),
                "result": [{"uuid": n["uuid"], "state": "success"} for n in numbers],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestOtpThroughTheSmsProvider(CommittedCase):
    """The code reaches the member through Odoo's SMS queue and a provider."""

    def test_code_sent_by_the_queue_to_the_provider(self):
        provider = HTTPServer(("127.0.0.1", 0), _SMSProvider)
        provider.received = []
        thread = threading.Thread(target=provider.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(provider.server_close)
        self.addCleanup(provider.shutdown)
        [(old_endpoint,)] = self._sql(
            "SELECT COALESCE((SELECT value FROM ir_config_parameter"
            " WHERE key = 'sms.endpoint'), '')"
        )
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["ir.config_parameter"].set_param(
                "sms.endpoint", f"http://127.0.0.1:{provider.server_address[1]}"
            )
            partner = self._committed_member(env)
            card = partner.loyalty_card_id
            env["loyalty.ledger"]._post(card, 100, "adjustment", reason="otp")
            otp = env["loyalty.otp"]._loyalty_request(card, "api")
            otp_id, phone = otp.id, partner.loyalty_phone
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._sql, "DELETE FROM sms_sms WHERE number = %s", [phone])
        self.addCleanup(self._sql, "DELETE FROM loyalty_otp WHERE id = %s", [otp_id])
        self.addCleanup(
            self._sql,
            "UPDATE ir_config_parameter SET value = %s WHERE key = 'sms.endpoint'",
            [old_endpoint or "https://sms.api.odoo.com"],
        )

        def queue_run():
            with self.registry.cursor() as cr:
                env = self._env(cr)
                env["sms.sms"]._process_queue()
                env.flush_all()

        runner = threading.Thread(target=queue_run)
        runner.start()
        runner.join(120)
        texts = [text for number, text in provider.received if number == phone]
        self.assertEqual(len(texts), 1, provider.received)
        code = re.search(r"\b(\d{6})\b", texts[0]).group(1)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            card = env["loyalty.card"].browse(card.id)
            self.assertTrue(
                env["loyalty.otp"]._loyalty_check_spend(
                    card, {"otp_id": otp_id, "code": code}, "provider-test"
                )
            )
            with self.assertRaises(LoyaltyError):
                env["loyalty.otp"]._loyalty_check_spend(
                    card, {"otp_id": otp_id, "code": code}, "another operation"
                )
            cr.rollback()


@tagged("post_install", "-at_install")
class TestOtpTour(pos_frontend.TestPointOfSaleHttpCommon):
    """At the till: found by phone, the cashier types the SMS code."""

    def test_spend_by_phone_with_the_sms_code(self):
        company = self.main_pos_config.company_id
        company.loyalty_phone_region = "RU"
        company.loyalty_required_field_ids = False
        program = self.env["loyalty.program"]._get_bonus_program(company)
        program.write({"welcome_points": 0, "min_balance_to_spend": 0})
        self.env["product.product"].create(
            {
                "name": "Куртка",
                "list_price": 1000,
                "available_in_pos": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        member = self.env["res.partner"].create(
            {"name": "Анна Кодова", "phone": "+79165557788"}
        )
        card = member._loyalty_enrol(program=program)
        self.env["loyalty.ledger"]._post(card, 500, "adjustment", reason="seed")
        self.main_pos_config.with_user(self.pos_user).open_ui()
        # the code the member "receives": fixed here, so that the tour can type it
        with patch.object(loyalty_otp.secrets, "randbelow", return_value=424242):
            self.start_pos_tour("loyalty_crm_pos_otp_tour", login="pos_user")
        self.assertEqual(card.points, 450)
        otp = self.env["loyalty.otp"].sudo().search([("card_id", "=", card.id)])
        self.assertEqual((otp.state, otp.attempts, otp.channel), ("used", 1, "pos"))
        self.assertEqual(
            fields.first(
                card.ledger_ids.filtered(lambda e: e.state == "reserved")
            ).points,
            -50,
        )
