from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase


class LoyaltyCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=False))
        cls.company = cls.env.company
        cls.company.loyalty_phone_region = "RU"
        cls.company.loyalty_required_field_ids = False
        cls.program = cls.env["loyalty.program"]._get_bonus_program(cls.company)
        # the default earning rule (5 %), whatever the database was set up with
        cls.program.rule_ids = [
            (5, 0, 0),
            (0, 0, cls.company._loyalty_bonus_rule_values()),
        ]
        cls.cashier = new_test_user(
            cls.env,
            "lc_cashier",
            groups="base.group_user,loyalty_crm.group_loyalty_user",
        )
        cls.manager = new_test_user(
            cls.env,
            "lc_manager",
            groups="base.group_user,loyalty_crm.group_loyalty_manager",
        )
        cls.Ledger = cls.env["loyalty.ledger"]

    @classmethod
    def _member(cls, name="Анна Петрова", phone="+7 916 123-45-67", **vals):
        partner = cls.env["res.partner"].create(dict(name=name, phone=phone, **vals))
        partner._loyalty_enrol()
        return partner

    def _credit(self, partner, points, reason="Test credit"):
        return partner.with_user(self.manager)._loyalty_adjust(points, reason)
