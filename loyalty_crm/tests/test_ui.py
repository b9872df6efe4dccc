from xmlrpc.client import Fault

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_ACCESS_ERROR


@tagged("post_install", "-at_install")
class TestUi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cashier = new_test_user(
            cls.env,
            "lc_tour_cashier",
            groups="base.group_user,loyalty_crm.group_loyalty_user",
        )
        cls.salesman = new_test_user(
            cls.env, "lc_rpc_salesman", groups="sales_team.group_sale_salesman"
        )
        cls.member = cls.env["res.partner"].create(
            {"name": "RPC Member", "phone": "+79161234500"}
        )
        cls.member._loyalty_enrol()

    def test_members_tour(self):
        self.start_tour("/odoo", "loyalty_crm_members_tour", login="lc_tour_cashier")
        member = self.env["res.partner"].search([("name", "=", "Пётр Тестов")])
        self.assertEqual(member.loyalty_phone, "+79167654321")
        old = member.loyalty_card_id.replaces_id
        # a cashier cannot choose the new card's number: it is generated
        self.assertRegex(member.loyalty_card_code, r"^043\d{10}$")
        self.assertNotEqual(member.loyalty_card_code, old.code)
        self.assertEqual(
            (old.loyalty_state, old.loyalty_state_reason),
            ("lost", "Потеряна в магазине"),
        )
        self.assertTrue(member.loyalty_marketing_consent)
        self.assertEqual(member.loyalty_card_id.loyalty_state, "active")

    def test_sale_points_tour(self):
        self.env["loyalty.ledger"]._post(
            self.member.loyalty_card_id, 500, "adjustment", reason="seed"
        )
        product = self.env["product.product"].create(
            {"name": "Куртка", "list_price": 1000}
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "user_id": self.salesman.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "price_unit": 1000,
                            "tax_id": [(5, 0, 0)],
                        },
                    )
                ],
            }
        )
        self.start_tour(
            f"/odoo/action-sale.action_quotations_with_onboarding/{order.id}",
            "loyalty_crm_sale_points_tour",
            login="lc_rpc_salesman",
        )
        self.assertEqual(order.loyalty_points_to_spend, 120)
        self.assertEqual(order.amount_total, 880)

    def test_points_not_writable_over_rpc(self):
        card = self.member.loyalty_card_id
        for login in ("lc_tour_cashier", "lc_rpc_salesman"):
            uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, login, {})
            with self.subTest(login=login):
                calls = [
                    ("loyalty.card", "write", [[card.id], {"points": 1000}]),
                    (
                        "loyalty.card",
                        "create",
                        [{"program_id": card.program_id.id, "points": 9}],
                    ),
                    (
                        "loyalty.history",
                        "create",
                        [{"card_id": card.id, "description": "x", "issued": 1000}],
                    ),
                    (
                        "loyalty.ledger",
                        "create",
                        [{"card_id": card.id, "entry_type": "bonus", "points": 1000}],
                    ),
                ]
                for model, method, args in calls:
                    with self.assertRaises(Fault) as caught:
                        self.xmlrpc_object.execute_kw(
                            self.env.cr.dbname, uid, login, model, method, args
                        )
                    self.assertEqual(
                        caught.exception.faultCode,
                        RPC_FAULT_CODE_ACCESS_ERROR,
                        caught.exception,
                    )
                # private methods are not callable over RPC at all
                with self.assertRaisesRegex(Fault, "Private methods"):
                    self.xmlrpc_object.execute_kw(
                        self.env.cr.dbname,
                        uid,
                        login,
                        "loyalty.ledger",
                        "_post",
                        [[], card.id, 1000, "bonus"],
                    )
        card.invalidate_recordset()
        self.assertEqual(card.points, 0)
        self.assertFalse(card.ledger_ids)

    def test_member_card_report_pdf_route(self):
        self.authenticate("lc_tour_cashier", "lc_tour_cashier")
        card = self.member.loyalty_card_id
        response = self.url_open(
            f"/report/html/loyalty_crm.report_member_card/{card.id}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(card.code, response.text)
