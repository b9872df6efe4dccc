"""Every read path runs on a read-only cursor (served by the replica when one is
configured); writes and their idempotency checks never do.

Odoo's test server gives a read-only route or ``@api.readonly`` method a
read-only transaction, as the replica would: a write there fails and Odoo
retries the request on the primary with a warning. The tests below fail on that
warning, so a read path that starts writing is caught here, not in production.
"""

import logging

from odoo.tests import new_test_user, tagged

from ..controllers.api import LoyaltyApiController
from ..controllers.portal import LoyaltyCustomerPortal
from ..models.loyalty_api import OPERATIONS
from .api_common import ApiCase

RETRIED_ON_PRIMARY = "retrying with a read/write cursor"


class _Retried(logging.Handler):
    """Collects Odoo's warnings that a read-only request was retried on the
    primary because it wrote."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        if RETRIED_ON_PRIMARY in record.getMessage():
            self.messages.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestReadPaths(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(
            cls.env, "lc_ro_portal", groups="base.group_portal"
        )
        cls.portal_user.partner_id.write({"phone": "+79161110077"})
        cls.portal_user.partner_id._loyalty_enrol()
        cls.cashier = new_test_user(
            cls.env,
            "lc_ro_cashier",
            groups="base.group_user,point_of_sale.group_pos_user",
        )
        cls.till = cls.env["pos.config"].create({"name": "Read-only till"})

    def assertReadOnly(self, call):
        """``call()`` ran without a write on its read-only cursor."""
        retried = _Retried()
        logger = logging.getLogger("odoo.http")
        logger.addHandler(retried)
        try:
            result = call()
        finally:
            logger.removeHandler(retried)
        self.assertFalse(retried.messages, "a read path wrote on its read-only cursor")
        return result

    def test_routes_of_the_api_are_read_only_exactly_for_reads(self):
        for name, operation in OPERATIONS.items():
            routing = getattr(LoyaltyApiController, name).original_routing
            with self.subTest(operation=name):
                self.assertEqual(routing["methods"], [operation["method"]])
                # a write (with its idempotency check) always on the primary
                self.assertEqual(routing["readonly"], operation["method"] == "GET")

    def test_api_reads_run_read_only(self):
        status, payload = self.assertReadOnly(
            lambda: self.api("GET", f"/members/lookup?card={self.card.code}")
        )
        self.assertEqual(status, 200, payload)
        status, payload = self.assertReadOnly(
            lambda: self.api("GET", f"/members/{self.member.id}/transactions")
        )
        self.assertEqual(status, 200, payload)
        self.assertEqual(payload["total"], 1)
        # a refusal of a read path is read-only too
        status, payload = self.assertReadOnly(
            lambda: self.api("GET", "/members/lookup?card=0000000000000")
        )
        self.assertEqual(status, 404, payload)

    def test_a_replay_right_after_a_write_answers_from_the_primary(self):
        body = {"card": self.card.code, "amount": 500, "idempotency_key": "ro-1"}
        first = self.api("POST", "/accruals", body)
        self.assertEqual(first[0], 201, first)
        replay = self.api("POST", "/accruals", body)
        self.assertEqual(replay, (200, first[1]))

    def test_the_till_finds_a_member_read_only(self):
        self.authenticate("lc_ro_cashier", "lc_ro_cashier")
        model = type(self.env["pos.config"])
        self.assertTrue(model.loyalty_crm_lookup._readonly)
        answer = self.assertReadOnly(
            lambda: self.make_jsonrpc_request(
                "/web/dataset/call_kw/pos.config/loyalty_crm_lookup",
                {
                    "model": "pos.config",
                    "method": "loyalty_crm_lookup",
                    "args": [[self.till.id], self.card.code],
                    "kwargs": {},
                },
            )
        )
        self.assertTrue(answer["ok"], answer)
        self.assertEqual(answer["member"]["partner_id"], self.member.id)
        self.assertEqual(answer["member"]["points"], 100)

    def test_portal_pages_run_read_only(self):
        self.authenticate("lc_ro_portal", "lc_ro_portal")
        card = self.portal_user.partner_id.loyalty_card_id
        for url in ("/my/loyalty", f"/my/loyalty/card/{card.id}"):
            with self.subTest(url=url):
                response = self.assertReadOnly(lambda url=url: self.url_open(url))
                self.assertEqual(response.status_code, 200)
                self.assertIn(card.code, response.text)
        for page in ("portal_my_loyalty", "portal_my_loyalty_card"):
            routing = getattr(LoyaltyCustomerPortal, page).original_routing
            self.assertTrue(routing["readonly"], page)
        # the questionnaire form writes: on the primary
        routing = LoyaltyCustomerPortal.portal_my_loyalty_profile.original_routing
        self.assertFalse(routing.get("readonly"))
