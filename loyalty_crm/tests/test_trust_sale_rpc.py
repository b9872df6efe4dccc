"""The Spend Bonus Points wizard of a quotation, driven over real XML-RPC by a
salesperson who is not a Loyalty Manager: the points are never the client's."""

from xmlrpc.client import Fault

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.base.controllers.rpc import (
    RPC_FAULT_CODE_ACCESS_ERROR,
    RPC_FAULT_CODE_WARNING,
)

WIZARD = "loyalty.sale.redeem.wizard"


@tagged("post_install", "-at_install")
class TestTrustSaleWizardRpc(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.company
        company.loyalty_phone_region = "RU"
        company.loyalty_required_field_ids = False
        cls.program = cls.env["loyalty.program"]._get_bonus_program(company)
        cls.program.write(
            {
                "max_redeem_share": 30,
                "min_balance_to_spend": 0,
                "point_value": 1,
                "pending_days": 0,
            }
        )
        cls.salesperson = new_test_user(
            cls.env,
            "lc_wiz_sales",
            groups="base.group_user,sales_team.group_sale_salesman",
        )
        cls.other_salesperson = new_test_user(
            cls.env,
            "lc_wiz_sales_2",
            groups="base.group_user,sales_team.group_sale_salesman",
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Пальто", "list_price": 1000, "taxes_id": [Command.clear()]}
        )
        Partner = cls.env["res.partner"]
        Ledger = cls.env["loyalty.ledger"]
        cls.member = Partner.create({"name": "Покупатель", "phone": "+79161230001"})
        cls.card = cls.member._loyalty_enrol()
        Ledger._post(cls.card, 1000, "adjustment", reason="seed")
        cls.victim = Partner.create({"name": "Жертва", "phone": "+79161230002"})
        cls.victim_card = cls.victim._loyalty_enrol()
        Ledger._post(cls.victim_card, 5000, "adjustment", reason="seed")
        cls.order = cls._order(cls.member, cls.salesperson)
        cls.victims_order = cls._order(cls.victim, cls.other_salesperson)
        # another company, its member and its quotation
        cls.company_b = cls.env["res.company"].create({"name": "Магазин Б"})
        cls.company_b.write(
            {"loyalty_phone_region": "RU", "loyalty_required_field_ids": False}
        )
        program_b = cls.env["loyalty.program"]._get_bonus_program(cls.company_b)
        program_b.write({"max_redeem_share": 100, "min_balance_to_spend": 0})
        cls.member_b = Partner.create(
            {
                "name": "Чужой участник",
                "phone": "+79161230003",
                "company_id": cls.company_b.id,
            }
        )
        cls.card_b = cls.member_b._loyalty_enrol(program=program_b)
        Ledger._post(cls.card_b, 5000, "adjustment", reason="seed")
        cls.order_b = cls._order(cls.member_b, cls.salesperson, cls.company_b)

    @classmethod
    def _order(cls, partner, user, company=None):
        return cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "user_id": user.id,
                "company_id": (company or cls.env.company).id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": cls.product.id,
                            "product_uom_qty": 1,
                            "price_unit": 1000,
                            "tax_id": [Command.clear()],
                        }
                    )
                ],
            }
        )

    def rpc(self, model, method, *args, login="lc_wiz_sales", **kwargs):
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, login, {})
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, login, model, method, list(args), kwargs
        )

    def apply(self, values, login="lc_wiz_sales"):
        """Create the wizard with ``values`` and apply it, as the salesperson."""
        wizard_id = self.rpc(WIZARD, "create", values, login=login)
        return self.rpc(WIZARD, "action_apply", [wizard_id], login=login)

    def state(self):
        self.env.invalidate_all()
        orders = self.order | self.victims_order | self.order_b
        return (
            [
                (o.partner_id, o.state, o.amount_total, o.loyalty_points_to_spend)
                for o in orders
            ],
            [c.points for c in (self.card, self.victim_card, self.card_b)],
            self.env["loyalty.ledger"].sudo().search_count([]),
        )

    def assertRefused(self, values, codes=(RPC_FAULT_CODE_WARNING,), login=None):
        with self.assertRaises(Fault, msg=values) as caught:
            self.apply(values, **({"login": login} if login else {}))
        self.assertIn(caught.exception.faultCode, codes, caught.exception.faultString)
        return caught.exception

    def test_points_the_rules_do_not_allow_are_refused(self):
        before = self.state()
        order = self.order.id
        for points in (
            1001,  # over the balance
            301,  # over the cap (30 % of 1000)
            -50,
            0,
            "nan",
            "inf",
            "-inf",
            "1e309",
            "beaucoup",
            float("nan"),
            float("inf"),
        ):
            with self.subTest(points=points):
                self.assertRefused({"order_id": order, "points": points})
        self.assertEqual(self.state(), before)

    def test_points_written_later_are_checked_too(self):
        """A wizard created with valid points, then written over XML-RPC with
        what is not a number, over the balance or over the cap, applies nothing."""
        before = self.state()
        for points in ("nan", "inf", "1e309", "beaucoup", float("nan"), 1001, 301):
            wizard_id = self.rpc(
                WIZARD, "create", {"order_id": self.order.id, "points": 10}
            )
            with self.subTest(points=points), self.assertRaises(Fault) as caught:
                self.rpc(WIZARD, "write", [wizard_id], {"points": points})
                self.rpc(WIZARD, "action_apply", [wizard_id])
            self.assertEqual(
                caught.exception.faultCode, RPC_FAULT_CODE_WARNING, caught.exception
            )
        self.assertEqual(self.state(), before)

    def test_computed_fields_written_at_create_decide_nothing(self):
        before = self.state()
        # the limits and the customer are the server's: forged at create, they
        # change neither the order nor what may be spent
        self.assertRefused(
            {
                "order_id": self.order.id,
                "points": 4000,
                "balance": 100000,
                "max_points": 100000,
                "partner_id": self.victim.id,
            }
        )
        self.assertEqual(self.state(), before)
        # a gift of another program's catalogue (another company's bonus
        # program, a coupon program) is not the member's to take
        promotion = self.env["loyalty.program"].create(
            {"name": "Акция", "program_type": "promotion"}
        )
        for program in (self.card_b.program_id, promotion):
            gift = self.env["loyalty.reward"].create(
                {
                    "program_id": program.id,
                    "reward_type": "product",
                    "reward_product_id": self.product.id,
                    "required_points": 1,
                }
            )
            self.assertRefused(
                {"order_id": self.order.id, "gift_reward_id": gift.id},
                codes=(RPC_FAULT_CODE_WARNING, RPC_FAULT_CODE_ACCESS_ERROR),
            )
        self.assertEqual(self.state(), before)
        self.apply(
            {
                "order_id": self.order.id,
                "points": 300,
                "balance": 1,
                "max_points": 1,
                "partner_id": self.victim.id,
            }
        )
        self.order.invalidate_recordset()
        self.assertEqual(self.order.partner_id, self.member)
        self.assertEqual(self.order.loyalty_points_to_spend, 300)
        self.assertEqual(self.order.amount_total, 700)

    def test_another_salespersons_or_companys_order_is_refused(self):
        before = self.state()
        for order in (self.victims_order, self.order_b):
            with self.subTest(order=order.name):
                self.assertRefused(
                    {"order_id": order.id, "points": 100},
                    codes=(RPC_FAULT_CODE_ACCESS_ERROR,),
                )
        self.assertEqual(self.state(), before)

    def test_a_confirmed_or_cancelled_order_is_refused(self):
        confirmed = self._order(self.member, self.salesperson)
        confirmed.action_confirm()
        cancelled = self._order(self.member, self.salesperson)
        cancelled.action_cancel()
        before = self.state()
        for order in (confirmed, cancelled):
            with self.subTest(state=order.state):
                self.assertRefused({"order_id": order.id, "points": 100})
        self.assertEqual(self.state(), before)
        self.assertFalse((confirmed | cancelled).order_line.filtered("loyalty_points"))
