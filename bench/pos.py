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

The customers are members: loyalty_crm's sync hook would also post their bonus
points during the native side's ``sync_from_ui`` (making "native" pay for both
programs). The native side therefore runs with loyalty_crm's settlement
switched off in this process (``_without_our_hook``): it measures Odoo's own
loyalty alone, as in a shop without loyalty_crm. The ledger is checked after:
every order of our side, and none of the native side, has its points.
"""

import contextlib
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


@contextlib.contextmanager
def _without_our_hook():
    """loyalty_crm's POS settlement (points of a paid order) off, in this process."""
    from odoo.addons.loyalty_crm.models.pos_order import PosOrder

    saved = PosOrder.__dict__["_loyalty_pos_settle"]
    PosOrder._loyalty_pos_settle = lambda self: None
    try:
        yield
    finally:
        PosOrder._loyalty_pos_settle = saved


def _order_id(result):
    return result["pos.order"][0]["id"]


def sync_ours(registry, env_factory, ctx):
    start = time.perf_counter()
    for partner_id, qty in _orders(ctx):
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            result = env["pos.order"].sync_from_ui([payload(ctx, partner_id, qty)])
            ctx["ours_orders"].append(_order_id(result))
    return time.perf_counter() - start


def sync_native(registry, env_factory, ctx):
    with _without_our_hook():
        return _sync_native(registry, env_factory, ctx)


def _sync_native(registry, env_factory, ctx):
    start = time.perf_counter()
    program = ctx["native"]
    for partner_id, qty in _orders(ctx):
        card_id = ctx["native_card"][partner_id]
        order = payload(ctx, partner_id, qty)
        points = round(order["amount_total"] * 0.05, 2)  # computed by the browser
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            env["pos.order"].validate_coupon_programs({str(card_id): points}, [])
        with env_factory(registry, commit=True, uid=ctx["user"]) as env:
            order_id = _order_id(env["pos.order"].sync_from_ui([order]))
            ctx["native_orders"].append(order_id)
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


def check_points(registry, env_factory, ctx):
    """What the syncs did to bonus points: ledger entries per side."""
    result = {}
    with env_factory(registry) as env:
        for side in ("ours", "native"):
            env.cr.execute(
                "SELECT COUNT(*), COUNT(DISTINCT res_id), COALESCE(SUM(points), 0)"
                "  FROM loyalty_ledger"
                " WHERE res_model = 'pos.order' AND res_id = ANY(%s)",
                [ctx[f"{side}_orders"]],
            )
            entries, orders, points = env.cr.fetchone()
            result[side] = {
                "orders": len(ctx[f"{side}_orders"]),
                "ledger_entries": entries,
                "orders_with_points": orders,
                "points": round(points, 2),
            }
    return result


def run(registry, env_factory, orders=1000, runs=3):
    ctx = prepare(registry, env_factory, orders)
    ctx["ours_orders"], ctx["native_orders"] = [], []
    ours, native = [], []
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
        "bonus_points": check_points(registry, env_factory, ctx),
    }
    points = result["bonus_points"]
    if points["ours"]["orders_with_points"] < points["ours"]["orders"]:
        result["note"] = (
            f"only {points['ours']['orders_with_points']} of "
            f"{points['ours']['orders']} orders of our side got bonus points: "
            "the POS integration is not installed, not enabled, or refused them"
        )
    if points["native"]["ledger_entries"]:
        result["note"] = "the native side posted bonus points: not a native baseline"
    return result
