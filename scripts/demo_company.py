"""Prepares a new demo database before loyalty_crm is installed: a Russian company
keeping its books in roubles. Run by `odoo-bin shell` (see create_demo_database in
scripts/env.sh) on a database holding only base with demo data.

Why a step of its own: the currency of a company can't change once journal items
exist, and installing loyalty_crm on a plain demo database books Odoo's demo
accounting in US dollars (account's demo loads the generic chart with its entries for
a company in the US or without a country). So, before anything is booked:

1. the main company moves to Moscow (country Russia): account's demo then leaves it
   alone and its generic chart is loaded without demo entries;
2. account is installed; the generic chart sets the company to its fiscal country,
   the US, and its currency, the dollar, while no entry exists yet;
3. the company is set back to roubles, fiscal country Russia, and the chart's sales
   and purchase taxes become Russian VAT (НДС 20 %, included in prices, as Russian
   retail prices are).

loyalty_crm and its demo data are installed afterwards (odoo-bin -i): every price list,
till, order and point is in roubles from the start.
"""

# ruff: noqa: F821  (env is the shell's)
import sys
import traceback

try:
    company = env.ref("base.main_company")
    russia = env.ref("base.ru")
    rub = env.ref("base.RUB")
    rub.active = True
    company.partner_id.write(
        {
            "street": "ул. Тверская, 12",
            "street2": False,
            "city": "Москва",
            "zip": "125009",
            "state_id": env.ref("base.state_ru_mow").id,
            "country_id": russia.id,
        }
    )
    company.currency_id = rub
    (company.partner_id | env.ref("base.partner_admin")).tz = "Europe/Moscow"
    env.cr.commit()

    account = env["ir.module.module"].search([("name", "=", "account")])
    if account.state != "installed":
        account.button_immediate_install()  # a new registry; env follows it
    company = env.ref("base.main_company")
    if company.root_id._existing_accounting():
        sys.exit(f"{company.name} already has journal items: its currency stays.")
    company.write({"currency_id": rub.id, "account_fiscal_country_id": russia.id})
    # names are translatable: the same name in every installed language
    langs = [code for code, _name in env["res.lang"].get_installed()]
    vat = "НДС 20 %"
    taxes = (
        env["account.tax"]
        .with_context(active_test=False)
        .search([("company_id", "=", company.id)])
    )
    groups = taxes.tax_group_id
    groups.write({"country_id": russia.id})
    for tax in taxes:  # a tax's group is of its country: both move together
        tax.write(
            {
                "amount": 20.0,
                "country_id": russia.id,
                "tax_group_id": tax.tax_group_id.id,
            }
        )
    for lang in langs:
        taxes.with_context(lang=lang).write(
            {"name": vat, "description": vat, "invoice_label": vat}
        )
        groups.with_context(lang=lang).name = vat
    company.account_price_include = "tax_included"
    env.cr.commit()
    print(
        f"demo company: {company.name}, {company.country_id.code}, "
        f"{company.currency_id.name}, chart {company.chart_template}, "
        f"taxes {', '.join(taxes.mapped('name'))}"
    )
except SystemExit:
    raise
except Exception:  # the shell would print it and exit 0
    traceback.print_exc()
    sys.exit(1)
