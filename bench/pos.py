"""(1) POS order sync: our bonus program vs Odoo's native loyalty program.

The same orders (member customers, one product line, paid in cash) are synced
the way the POS front end does it, one order per transaction (one RPC each):

- ours: ``pos.order.sync_from_ui([order])`` - the points are decided by the
  server inside the sync once the POS integration is installed;
- native: what ``pos_loyalty``'s payment screen sends for a loyalty program
  with a card: ``validate_coupon_programs`` (existing card's point change),
  ``sync_from_ui``, then ``confirm_coupon_programs`` with the browser's coupon
  data (the points computed in the browser).

Payloads are built like ``point_of_sale/tests/common.py``'s
``create_ui_order_data``. The ratio is ours / native (target <= 1.2).
"""

import time
import uuid as uuidlib

from odoo import Command, fields

from . import datagen
from .stats import median


def _admin(env):
    return env.ref("base.user_admin").id


def prepare(registry, env_factory, orders):
    """Open a POS session; give the customers a card of the native program too."""
    with env_factory(registry, commit=True) as env:
        _program, config, product, native = datagen.setup(env)
        if not config.current_session_id:
            config.with_user(_admin(env)).open_ui()
        session = config.current_session_id
        cash = (
            config.payment_method_ids.filtered(
                lambda pm: pm.is_cash_count and not pm.split_transactions
            )[:1]
            or config.payment_method_ids[:1]
        )
        if not cash:
            raise RuntimeError("the POS config has no payment method")
        env.cr.execute(
            "SELECT id FROM res_partner WHERE loyalty_is_member"
            " AND loyalty_referral_code LIKE 'BM%%' ORDER BY id LIMIT %s",
            [orders],
        )
        partner_ids = [r[0] for r in env.cr.fetchall()]
        have = env["loyalty.card"].search(
            [("program_id", "=", native.id), ("partner_id", "in", partner_ids)]
        )
        missing = set(partner_ids) - set(have.partner_id.ids)
        if missing:
            have |= env["loyalty.card"].create(
                [
                    {"program_id": native.id, "partner_id": pid, "points": 0}
                    for pid in sorted(missing)
                ]
            )
        native_card = {card.partner_id.id: card.id for card in have}
        return {
            "session": session.id,
            "config": config.id,
            "pricelist": config.pricelist_id.id,
            "fiscal_position": config.default_fiscal_position_id.id or False,
            "product": product.id,
            "price": product.lst_price,
            "cash": cash.id,
            "native": native.id,
            "partners": partner_ids,
            "native_card": native_card,
            "user": _admin(env),
        }


def payload(ctx, partner_id, qty):
    """An order as the POS front end sends it (see create_ui_order_data)."""
    uid = str(uuidlib.uuid4())
    total = round(ctx["price"] * qty, 2)
    now = fields.Datetime.to_string(fields.Datetime.now())
    return {
        "amount_paid": total,
        "amount_return": 0,
        "amount_tax": 0,
        "amount_total": total,
        "date_order": now,
        "fiscal_position_id": ctx["fiscal_position"],
        "pricelist_id": ctx["pricelist"],
        "name": f"Order {uid}",
        "last_order_preparation_change": "{}",
        "lines": [
            Command.create(
                {
                    "id": 1,
                    "pack_lot_ids": [],
                    "price_unit": ctx["price"],
                    "product_id": ctx["product"],
                    "price_subtotal": total,
                    "price_subtotal_incl": total,
                    "qty": qty,
                    "tax_ids": [Command.set([])],
                }
            )
        ],
        "partner_id": partner_id,
        "session_id": ctx["session"],
        "sequence_number": 2,
        "payment_ids": [
            Command.create(
                {"amount": total, "name": now, "payment_method_id": ctx["cash"]}
            )
        ],
        "uuid": uid,
        "user_id": ctx["user"],
        "to_invoice": False,
    }


def _orders(ctx):
    return [(partner_id, 1 + i % 5) for i, partner_id in enumerate(ctx["partners"])]


def sync_ours(registry, env_factory, ctx):
    start = time.perf_counter()
    for partner_id, qty in _orders(ctx):
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            env["pos.order"].sync_from_ui([payload(ctx, partner_id, qty)])
    return time.perf_counter() - start


def sync_native(registry, env_factory, ctx):
    start = time.perf_counter()
    program = ctx["native"]
    for partner_id, qty in _orders(ctx):
        card_id = ctx["native_card"][partner_id]
        order = payload(ctx, partner_id, qty)
        points = round(order["amount_total"] * 0.05, 2)  # computed by the browser
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            env["pos.order"].validate_coupon_programs({str(card_id): points}, [])
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            result = env["pos.order"].sync_from_ui([order])
            order_id = result["pos.order"][0]["id"]
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            env["pos.order"].browse(order_id).confirm_coupon_programs(
                {
                    str(card_id): {
                        "points": points,
                        "program_id": program,
                        "coupon_id": card_id,
                        "barcode": False,
                        "partner_id": partner_id,
                    }
                }
            )
    return time.perf_counter() - start


def check_points(registry, env_factory, ctx, since_id):
    """What the sync did to points: ledger entries of our program per order."""
    with env_factory(registry) as env:
        env.cr.execute(
            "SELECT COUNT(*), COUNT(DISTINCT res_id) FROM loyalty_ledger"
            " WHERE res_model = 'pos.order' AND res_id > %s",
            [since_id],
        )
        entries, orders = env.cr.fetchone()
        return {"ledger_entries": entries, "orders_with_points": orders}


def run(registry, env_factory, orders=1000, runs=3):
    ctx = prepare(registry, env_factory, orders)
    ours, native = [], []
    with env_factory(registry) as env:
        env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM pos_order")
        first_id = env.cr.fetchone()[0]
    for i in range(runs):
        # alternate which side goes first: the machine is shared
        sides = [("ours", sync_ours), ("native", sync_native)]
        if i % 2:
            sides.reverse()
        for name, func in sides:
            seconds = func(registry, env_factory, ctx)
            (ours if name == "ours" else native).append(seconds)
    ours_s, native_s = median(ours), median(native)
    n = len(ctx["partners"])
    result = {
        "orders": n,
        "runs": runs,
        "ours_seconds": round(ours_s, 3),
        "native_seconds": round(native_s, 3),
        "ours_ms_per_order": round(ours_s * 1000 / n, 2),
        "native_ms_per_order": round(native_s * 1000 / n, 2),
        "ratio": round(ours_s / native_s, 3),
        "our_points": check_points(registry, env_factory, ctx, first_id),
    }
    if not result["our_points"]["ledger_entries"]:
        result["note"] = (
            "no bonus points were posted by the sync: the POS integration is not "
            "installed (or not enabled), 'ours' is Odoo's plain sync"
        )
    return result
