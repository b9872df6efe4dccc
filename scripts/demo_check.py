"""Checks a new demo database (scripts/run.sh, scripts/screens.sh): a Russian clothing
retailer in roubles. Run by `odoo-bin shell` (odoo_shell in scripts/env.sh); prints
what it checked and exits non-zero, naming what is wrong, if anything is.
"""

# ruff: noqa: F821  (env is the shell's)
import statistics
import sys

from odoo.addons.loyalty_crm.models.loyalty_demo import STORES

problems = []


def check(ok, what):
    print(("  ok    " if ok else "  WRONG ") + what)
    if not ok:
        problems.append(what)


def amount(value):
    return f"{value:,.0f} ₽".replace(",", " ")


company = env.ref("base.main_company")
rub = env.ref("base.RUB")
for each in env["res.company"].search([]):
    check(
        each.currency_id == rub and each.country_id.code == "RU",
        f"{each.name}: {each.city}, {each.country_id.name}, {each.currency_id.name}",
    )
for model, what in (
    ("product.pricelist", "price lists"),
    ("pos.config", "tills"),
    ("sale.order", "sales orders"),
    ("pos.order", "till receipts"),
    ("account.move", "journal entries"),
    ("loyalty.program", "loyalty programs"),
):
    records = env[model].with_context(active_test=False).search([])
    others = records.filtered(lambda r: r.currency_id != rub)
    # (no price list at all is fine: Odoo makes them with the price list option)
    check(
        not others and (records or model == "product.pricelist"),
        f"{what} in roubles: {len(records) - len(others)} of {len(records)}",
    )
data = env["loyalty.dashboard"].get_dashboard_data(months=12)
check(data["currency_id"] == rub.id, "the dashboard's amounts in roubles")

# prices include VAT, as Russian retail prices do
on_till = env["product.product"].search([("available_in_pos", "=", True)])
with_vat = on_till.filtered(
    lambda p: p.taxes_id and all(t.price_include and t.amount == 20 for t in p.taxes_id)
)
check(
    on_till and with_vat == on_till,
    f"the till's prices include НДС 20 %: {len(with_vat)} of {len(on_till)} products",
)
receipts = env["pos.order"].search([("config_id.name", "in", [n for n, _c in STORES])])
vat = sum(receipts.mapped("amount_tax"))
goods = sum(receipts.lines.filtered("tax_ids").mapped("price_subtotal_incl"))
check(
    goods and abs(vat / goods - 20 / 120) < 0.001,
    f"the stores' receipts: {amount(vat)} VAT in {amount(goods)} of goods",
)

# the demo's purchases: a clothing store's tickets, in roubles
program = company.loyalty_bonus_program_id
stores = [name for name, _city in STORES]
tickets = (
    env["pos.order"]
    .search([("config_id.name", "in", stores), ("amount_total", ">", 0)])
    .mapped("amount_total")
)
check(len(tickets) > 500, f"{len(tickets)} receipts at the retailer's three stores")
if tickets:
    deciles = statistics.quantiles(tickets, n=10)
    median = statistics.median(tickets)
    check(
        1000 <= deciles[0] and deciles[-1] <= 30000 and 1500 <= median <= 15000,
        f"receipts: median {amount(median)}, 10 % under {amount(deciles[0])}, "
        f"10 % over {amount(deciles[-1])}",
    )
tiers = program.tier_ids.sorted("min_spend")
check(
    [t.min_spend for t in tiers] == [0, 30000, 100000],
    "tiers from "
    + ", ".join(f"{t.name} {amount(t.min_spend)}" for t in tiers)
    + " spent",
)
check(
    program.point_value == 1,
    f"a point is worth {program.point_value:g} ₽ "
    f"(earned 5 % of a receipt, at most {program.max_redeem_share:g} % "
    f"of one paid with points)",
)

if problems:
    sys.exit(
        "The demo database is not a Russian retailer in roubles: " + "; ".join(problems)
    )
print("The demo database is a Russian retailer in roubles.")
