"""A dishonest salesperson: the quotation's numbers after the points were
applied, and the points of its lines written over RPC."""

import xmlrpc.client

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .test_sale_points import SaleCase


@tagged("post_install", "-at_install")
class TestTrustSale(SaleCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {"max_redeem_share": 30, "min_balance_to_spend": 0, "point_value": 1}
        )
        cls.Ledger._post(cls.card, 1000, "adjustment", reason="seed")

    def test_price_cut_after_points_is_refused_at_confirmation(self):
        order = self._order(qty=1, confirm=False)  # 1000
        order._loyalty_apply_points(300)  # 30 %
        order.order_line.filtered(lambda line: not line.loyalty_redemption_line).write(
            {"price_unit": 400}
        )
        # 300 points would pay 75 % of what is left
        with self.assertRaisesRegex(UserError, "at most 30.0 %"):
            order.action_confirm()
        self.assertEqual(self.card.points, 1000)

    def test_point_value_changed_after_points_is_refused_at_confirmation(self):
        order = self._order(qty=1, confirm=False)
        order._loyalty_apply_points(200)
        self.program.point_value = 0.5
        with self.assertRaisesRegex(UserError, "no longer what its 200.0 points"):
            order.action_confirm()
        self.assertEqual(self.card.points, 1000)

    def test_points_spent_since_are_refused_at_confirmation(self):
        order = self._order(qty=1, confirm=False)
        order._loyalty_apply_points(300)
        self.Ledger._post(self.card, -900, "redemption", reason="spent elsewhere")
        with self.assertRaisesRegex(UserError, "has 100.0 points"):
            order.action_confirm()

    def test_redemption_line_fields_cannot_be_written(self):
        order = self._order(qty=1, confirm=False)
        order._loyalty_apply_points(100)
        line = order.order_line.filtered("loyalty_redemption_line")
        with self.assertRaises(AccessError):
            line.write({"loyalty_points": 1})
        with self.assertRaises(UserError):
            line.write({"price_unit": -900})
        with self.assertRaises(AccessError):
            order.write(
                {
                    "order_line": [
                        Command.create(
                            {
                                "product_id": self.product.id,
                                "price_unit": 0,
                                "loyalty_redemption_line": True,
                                "loyalty_points": -5000,
                            }
                        )
                    ]
                }
            )


@tagged("post_install", "-at_install")
class TestTrustSaleRpc(HttpCase):
    def test_salesperson_cannot_set_points_of_a_line_over_xmlrpc(self):
        salesperson = new_test_user(
            self.env,
            "lc_rpc_sales",
            password="lc_rpc_sales_pw",
            groups="base.group_user,sales_team.group_sale_salesman",
        )
        customer = self.env["res.partner"].create({"name": "RPC customer"})
        product = self.env["product.product"].create({"name": "RPC jacket"})
        order = self.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "user_id": salesperson.id,
                "order_line": [Command.create({"product_id": product.id})],
            }
        )
        line = order.order_line
        with self.assertRaises(xmlrpc.client.Fault) as fault:
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                salesperson.id,
                "lc_rpc_sales_pw",
                "sale.order.line",
                "write",
                [[line.id], {"loyalty_points": 500, "loyalty_redemption_line": True}],
            )
        self.assertIn("Spend Bonus Points", fault.exception.faultString)
        line.invalidate_recordset()
        self.assertEqual(line.loyalty_points, 0)
