"""A shop, its till and the order payloads the POS sends (``sync_from_ui``)."""

import random
import uuid as uuid_lib

from odoo import fields
from odoo.tests import new_test_user

from .common import LoyaltyCase


def open_shop(env, name, cashier):
    """A new POS config with an opened session (opened by ``cashier``)."""
    # a cash register of its own: a cash payment method serves one shop only
    journal = env["account.journal"].create(
        {
            "name": f"Cash {name}",
            "code": f"L{random.randint(0, 9999):04d}",
            "type": "cash",
        }
    )
    cash = env["pos.payment.method"].create(
        {"name": f"Cash {name}", "journal_id": journal.id}
    )
    config = env["pos.config"].create(
        {"name": name, "payment_method_ids": [(6, 0, cash.ids)]}
    )
    config.with_user(cashier).open_ui()
    session = config.current_session_id
    session.with_user(cashier).set_opening_control(0, None)
    return config, session


def order_payload(
    session, lines, partner=None, refunds=(), payment=None, uuid=None, **extra
):
    """What the till sends for a paid order.

    ``lines``: ``(product, qty, price_unit)``; ``refunds``: ``(line, qty)`` of an
    earlier order's lines returned (negative amounts).
    """
    uuid = uuid or str(uuid_lib.uuid4())
    commands = []
    total = 0.0
    for product, qty, price in lines:
        total += qty * price
        commands.append(
            (
                0,
                0,
                {
                    "product_id": product.id,
                    "qty": qty,
                    "price_unit": price,
                    "price_subtotal": qty * price,
                    "price_subtotal_incl": qty * price,
                    "discount": 0.0,
                    "tax_ids": [(6, 0, [])],
                    "uuid": str(uuid_lib.uuid4()),
                },
            )
        )
    for line, qty in refunds:
        total += -qty * line.price_unit
        commands.append(
            (
                0,
                0,
                {
                    "product_id": line.product_id.id,
                    "qty": -qty,
                    "price_unit": line.price_unit,
                    "price_subtotal": -qty * line.price_unit,
                    "price_subtotal_incl": -qty * line.price_unit,
                    "discount": 0.0,
                    "tax_ids": [(6, 0, [])],
                    "refunded_orderline_id": line.id,
                    "uuid": str(uuid_lib.uuid4()),
                },
            )
        )
    total = round(total, 2)
    cash = session.config_id.payment_method_ids.filtered("is_cash_count")[:1]
    payment = total if payment is None else payment
    return {
        "amount_paid": payment,
        "amount_return": 0,
        "amount_tax": 0,
        "amount_total": total,
        "date_order": fields.Datetime.to_string(fields.Datetime.now()),
        "fiscal_position_id": False,
        "pricelist_id": session.config_id.pricelist_id.id,
        "name": f"Order {uuid}",
        "last_order_preparation_change": "{}",
        "lines": commands,
        "partner_id": partner.id if partner else False,
        "session_id": session.id,
        "sequence_number": 2,
        "payment_ids": [
            (
                0,
                0,
                {
                    "amount": payment,
                    "name": fields.Datetime.now(),
                    "payment_method_id": cash.id,
                },
            )
        ],
        "uuid": uuid,
        "access_token": str(uuid_lib.uuid4()),
        "user_id": session.user_id.id,
        "to_invoice": False,
        "state": "paid",
        **extra,
    }


class PosLoyaltyCase(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pos_cashier = new_test_user(
            cls.env,
            "lc_pos_cashier",
            groups="base.group_user,point_of_sale.group_pos_user",
        )
        cls.pos_manager = new_test_user(
            cls.env,
            "lc_pos_manager",
            groups="base.group_user,point_of_sale.group_pos_manager,"
            "account.group_account_invoice",
        )
        cls.config, cls.session = open_shop(cls.env, "Till A", cls.pos_manager)
        cls.product = cls.env["product.product"].create(
            {
                "name": "Куртка",
                "list_price": 1000,
                "available_in_pos": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.product_b = cls.env["product.product"].create(
            {
                "name": "Шапка",
                "list_price": 400,
                "available_in_pos": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.discount_product = (
            cls.env["pos.config"]
            ._loyalty_pos_discount_products()
            .filtered(lambda p: p in cls.program.reward_ids.discount_line_product_id)
        )
        cls.PosOrder = cls.env["pos.order"].with_user(cls.pos_cashier)

    def _sync(self, payload, user=None):
        orders = (
            self.env["pos.order"]
            .with_user(user or self.pos_cashier)
            .sync_from_ui([payload])
        )
        return self.env["pos.order"].browse(orders["pos.order"][0]["id"])

    def _reserve(self, partner, points, amount, uuid, config=None):
        config = (config or self.config).with_user(self.pos_cashier)
        # the card scanned (a member found by phone confirms with an SMS code:
        # test_otp.py)
        card = {"card": partner.loyalty_card_id.code}
        return config.loyalty_crm_reserve(uuid, partner.id, points, amount, card)

    def _discount_line(self, value):
        return (self.discount_product, 1, -value)

    def _entries(self, uuid):
        return self.Ledger.sudo().search(
            [("idempotency_key", "=like", f"pos.order/{uuid}/%")], order="id"
        )
