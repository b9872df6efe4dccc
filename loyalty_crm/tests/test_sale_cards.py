from odoo.tests import tagged

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestSaleCards(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create(
            {"name": "Куртка", "list_price": 5000, "taxes_id": [(5, 0, 0)]}
        )

    def _order(self, partner, price=5000, product=None):
        order = self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": (product or self.product).id,
                            "product_uom_qty": 1,
                            "price_unit": price,
                            "tax_id": [(5, 0, 0)],
                        },
                    )
                ],
            }
        )
        order.action_confirm()
        return order

    def test_card_issued_on_purchase_over_amount(self):
        self.program.write(
            {"card_issue_mode": "purchase", "card_issue_min_amount": 3000}
        )
        small = self.env["res.partner"].create(
            {"name": "Мелкий", "phone": "+79161234567"}
        )
        self._order(small, price=2999)
        self.assertFalse(small.loyalty_is_member)
        big = self.env["res.partner"].create(
            {"name": "Крупный", "phone": "+79035551234"}
        )
        self._order(big, price=3000)
        self.assertTrue(big.loyalty_is_member)
        self.assertEqual(big.loyalty_card_id.loyalty_state, "active")

    def test_purchase_without_phone_is_not_blocked(self):
        self.program.write(
            {"card_issue_mode": "purchase", "card_issue_min_amount": 100}
        )
        anonymous = self.env["res.partner"].create({"name": "Без телефона"})
        order = self._order(anonymous)
        self.assertEqual(order.state, "sale")
        self.assertFalse(anonymous.loyalty_is_member)
        self.assertIn("No member card issued", order.message_ids[:3].mapped("body")[0])

    def test_card_sold_as_a_product(self):
        card_product = self.env["product.product"].create(
            {"name": "Карта клиента", "list_price": 100}
        )
        self.program.write(
            {"card_issue_mode": "product", "card_product_id": card_product.id}
        )
        buyer = self.env["res.partner"].create(
            {"name": "Покупатель", "phone": "+79161234567"}
        )
        self._order(buyer)
        self.assertFalse(buyer.loyalty_is_member)
        self._order(buyer, product=card_product, price=100)
        self.assertTrue(buyer.loyalty_is_member)

    def test_activation_at_first_purchase(self):
        self.program.card_activation = "first_purchase"
        member = self._member()
        self.assertEqual(member.loyalty_card_id.loyalty_state, "issued")
        self._order(member)
        self.assertEqual(member.loyalty_card_id.loyalty_state, "active")

    def test_enrolment_mode_issues_nothing_at_checkout(self):
        customer = self.env["res.partner"].create(
            {"name": "Клиент", "phone": "+79161234567"}
        )
        self._order(customer)
        self.assertFalse(customer.loyalty_is_member)
