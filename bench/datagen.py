"""Data at scale, generated set-based (INSERT ... SELECT generate_series).

What the ORM would have written, without the ORM's per-record cost, and keeping
its invariants:

- members (``res.partner``) with an E.164 phone in ``phone`` and
  ``loyalty_phone`` (what the lookup searches), a referral code, a birth date,
  a tier, and one active card of the bonus program with an EAN-13 number
  (``043`` + 9 digits + check digit);
- ``LEDGER_PER_MEMBER`` ledger entries per member: a welcome bonus whose lot
  expired (two members in three also have its expiry entry, the third still
  holds open expired points for the expiry job), purchase accruals (the first
  two of them from POS orders), a redemption, and a pending accrual (one member
  in ten past its return window, for the release job);
- ``loyalty_card.points`` = SUM(ledger entries that count) for every card
  (checked with the reconciliation query at the end);
- ``ORDERS_PER_MEMBER`` POS orders per member (one line each) in a closed
  history session, spread over the last two years; members joined over the
  last 700 days (some orders are from before they joined);
- tiers (Bronze / Silver / Gold) set from each member's spend, except one
  member in ten whose tier is missing (the tier job upgrades them).

Small setup (programs, tiers, chart of accounts, POS config) goes through the
ORM, as a user would do it.
"""

import logging
import time

from odoo import Command, fields

_logger = logging.getLogger(__name__)

LEDGER_PER_MEMBER = 10
ORDERS_PER_MEMBER = 2
PRODUCT_PRICE = 100.0
TIERS = [("Bronze", 0.0, 1.0), ("Silver", 6000.0, 1.25), ("Gold", 9000.0, 1.5)]
NATIVE_PROGRAM_NAME = "Native loyalty (bench)"
# members joined over the last 700 days (the card's date), member m on day
# (m * 17) % 700 before today: the dashboard's months all have new members
JOINED = "now() at time zone 'utc' - ((m * 17) %% 700 + 1) * interval '1 day'"
# POS orders over the last two years: member m's orders on days
# (m * 13) % 730 and 365 later (mod 730) before today; those before the member
# joined are non-member purchases
ORDER_DAYS = "((m * 13 + (k - 3) * 365) %% 730)"


# ---------------------------------------------------------------- ORM setup
def setup(env):
    """Programs, tiers, chart of accounts, POS config and product (idempotent)."""
    company = env.company
    company.loyalty_phone_region = "RU"
    company.loyalty_required_field_ids = False
    program = env["loyalty.program"]._get_bonus_program(company)
    program.write(
        {
            "birthday_points": 100.0,
            "pending_days": 14,
            "points_lifetime": "days",
            "points_lifetime_days": 365,
        }
    )
    if not program.tier_ids:
        program.tier_ids = [
            Command.create({"name": name, "min_spend": spend, "multiplier": mult})
            for name, spend, mult in TIERS
        ]
    if not env["account.journal"].search_count([("company_id", "=", company.id)]):
        env["account.chart.template"].try_loading(
            "generic_coa", company, install_demo=False
        )
    config = env["pos.config"].search([("company_id", "=", company.id)], limit=1)
    if not config:
        config = env["pos.config"].create({"name": "Bench shop"})
    product = env["product.product"].search(
        [("default_code", "=", "BENCH-POS")], limit=1
    )
    if not product:
        product = env["product.product"].create(
            {
                "name": "Bench product",
                "default_code": "BENCH-POS",
                # a service: no stock picking per order, so that what the
                # loyalty programs cost is not hidden behind the stock moves
                "type": "service",
                "available_in_pos": True,
                "list_price": PRODUCT_PRICE,
                "taxes_id": [Command.clear()],
            }
        )
    native = env["loyalty.program"].search(
        [("name", "=", NATIVE_PROGRAM_NAME)], limit=1
    )
    if not native:
        # Odoo's own loyalty program, equivalent to ours: 5 points per 100 spent,
        # a point worth 1 as a discount, used in the POS.
        native = env["loyalty.program"].create(
            {
                "name": NATIVE_PROGRAM_NAME,
                "program_type": "loyalty",
                "applies_on": "both",
                "trigger": "auto",
                "pos_ok": True,
                "sale_ok": False,
                "pos_config_ids": [Command.link(config.id)],
                "rule_ids": [
                    Command.clear(),
                    Command.create(
                        {
                            "reward_point_mode": "money",
                            "reward_point_amount": 0.05,
                            "minimum_qty": 0,
                        }
                    ),
                ],
                "reward_ids": [
                    Command.clear(),
                    Command.create(
                        {
                            "reward_type": "discount",
                            "discount_mode": "per_point",
                            "discount": 1.0,
                            "required_points": 1,
                            "discount_applicability": "order",
                        }
                    ),
                ],
            }
        )
    env.flush_all()
    return program, config, product, native


def _columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
        [table],
    )
    return {row[0] for row in cr.fetchall()}


def _insert(cr, table, exprs, from_sql, params):
    """INSERT INTO table (cols) SELECT exprs FROM ... for the columns that exist."""
    existing = _columns(cr, table)
    cols = [c for c in exprs if c in existing]
    cr.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) "
        f"SELECT {', '.join(exprs[c] for c in cols)} {from_sql}",
        params,
    )
    return cr.rowcount


def _max_id(cr, table):
    cr.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    return cr.fetchone()[0]


# the tables the generator fills: their secondary indexes are dropped during the
# load and built again afterwards (one sort per index instead of millions of
# inserts into each)
LOADED_TABLES = (
    "res_partner",
    "loyalty_card",
    "loyalty_ledger",
    "pos_order",
    "pos_order_line",
)


def _bulk_load_begin(cr):
    """Make the load fast: secondary indexes dropped (returned, to build them
    again), and, when the role may, foreign keys not checked row by row (the
    data is consistent by construction; ``check`` verifies it afterwards)."""
    cr.execute("SET LOCAL maintenance_work_mem = '256MB'")
    cr.execute("SET LOCAL synchronous_commit = off")
    try:
        cr.execute("SAVEPOINT bench_replica")
        cr.execute("SET LOCAL session_replication_role = replica")
        cr.execute("RELEASE SAVEPOINT bench_replica")
    except Exception:  # not a superuser: foreign keys stay checked
        cr.execute("ROLLBACK TO SAVEPOINT bench_replica")
        _logger.info("bench: foreign keys checked row by row (not a superuser)")
    cr.execute(
        """
        SELECT i.indexname, i.indexdef
          FROM pg_indexes i
          JOIN pg_class c ON c.relname = i.indexname
          JOIN pg_index x ON x.indexrelid = c.oid
         WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
           AND NOT x.indisunique AND NOT x.indisprimary
        """,
        [list(LOADED_TABLES)],
    )
    indexes = cr.fetchall()
    for name, _definition in indexes:
        cr.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in indexes]


def _bulk_load_end(cr, indexes):
    for definition in indexes:
        cr.execute(definition)
    cr.execute("SET LOCAL session_replication_role = DEFAULT")


def _sync_sequence(cr, table):
    cr.execute(f"SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM {table}))")


# ---------------------------------------------------------------- set-based data
def generate(env, members):
    """Generate ``members`` members with their cards, ledgers and orders."""
    cr = env.cr
    timings = {}
    program, config, product, native = setup(env)
    company = env.company
    cr.execute(
        "SELECT COUNT(*) FROM res_partner WHERE loyalty_referral_code LIKE 'BM%%'"
    )
    if cr.fetchone()[0]:
        raise RuntimeError("This database already holds bench members.")

    # EAN-13 check digit, as odoo.tools.barcode.get_barcode_check_digit
    cr.execute(
        """
        CREATE OR REPLACE FUNCTION pg_temp.bench_ean13(body text) RETURNS text AS $$
            SELECT body || ((10 - SUM(substr(body, i, 1)::int
                                      * CASE WHEN i % 2 = 0 THEN 3 ELSE 1 END) % 10)
                            % 10)::text
              FROM generate_series(1, 12) i
        $$ LANGUAGE sql IMMUTABLE
        """
    )
    p0, c0, l0 = (
        _max_id(cr, t) for t in ("res_partner", "loyalty_card", "loyalty_ledger")
    )
    params = {
        "n": members,
        "p0": p0,
        "c0": c0,
        "l0": l0,
        "k": LEDGER_PER_MEMBER,
        "program": program.id,
        "native": native.id,
        "company": company.id,
        "uid": env.uid,
        "today": fields.Date.context_today(env["res.partner"]),
    }

    t0 = time.perf_counter()
    indexes = _bulk_load_begin(cr)
    _insert(
        cr,
        "res_partner",
        {
            "id": "%(p0)s + m",
            "name": "'Member ' || m",
            "complete_name": "'Member ' || m",
            "commercial_partner_id": "%(p0)s + m",
            "lang": "'en_US'",
            "type": "'contact'",
            "active": "true",
            "is_company": "false",
            "partner_share": "true",
            "color": "0",
            "message_bounce": "0",
            "customer_rank": "1",
            "supplier_rank": "0",
            "autopost_bills": "'ask'",
            "invoice_warn": "'no-message'",
            "sale_warn": "'no-message'",
            "picking_warn": "'no-message'",
            "purchase_warn": "'no-message'",
            "email": "'member' || m || '@bench.example.com'",
            "email_normalized": "'member' || m || '@bench.example.com'",
            "phone": "'+7916' || lpad(m::text, 7, '0')",
            "loyalty_phone": "'+7916' || lpad(m::text, 7, '0')",
            "loyalty_is_member": "true",
            "loyalty_referral_code": "'BM' || m",
            "loyalty_birthdate": "date '1960-01-01' + (m * 97) %% 16000",
            "loyalty_gender": "CASE WHEN m %% 2 = 0 THEN 'female' ELSE 'male' END",
            "loyalty_completeness": "40",
            "loyalty_marketing_consent": "m %% 4 <> 0",
            "loyalty_member_since": JOINED,
            "create_uid": "%(uid)s",
            "write_uid": "%(uid)s",
            "create_date": "now() at time zone 'utc' - interval '600 days'",
            "write_date": "now() at time zone 'utc'",
        },
        "FROM generate_series(1, %(n)s) m",
        params,
    )
    _insert(
        cr,
        "loyalty_card",
        {
            "id": "%(c0)s + m",
            "program_id": "%(program)s",
            "company_id": "%(company)s",
            "partner_id": "%(p0)s + m",
            "code": "pg_temp.bench_ean13('043'"
            " || lpad(((m::bigint * 7919) %% 1000000000)::text, 9, '0'))",
            "points": "0",
            "active": "true",
            "loyalty_state": "'active'",
            "is_bonus_card": "true",
            "activation_date": JOINED,
            "create_uid": "%(uid)s",
            "write_uid": "%(uid)s",
            "create_date": JOINED,
            "write_date": "now() at time zone 'utc'",
        },
        "FROM generate_series(1, %(n)s) m",
        params,
    )
    cr.execute(
        "UPDATE res_partner SET loyalty_card_id = id - %(p0)s + %(c0)s"
        " WHERE id > %(p0)s",
        params,
    )
    timings["members_and_cards"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- POS history
    t0 = time.perf_counter()
    history = env["pos.session"].create({"config_id": config.id})
    cr.execute(
        "UPDATE pos_session SET state = 'closed', stop_at = now() at time zone 'utc'"
        " WHERE id = %s",
        [history.id],
    )
    o0 = _max_id(cr, "pos_order")
    params.update(
        o0=o0,
        orders=members * ORDERS_PER_MEMBER,
        session=history.id,
        config=config.id,
        pricelist=config.pricelist_id.id or None,
        product=product.id,
        currency=company.currency_id.id,
    )
    # order j belongs to member ((j - 1) % n) + 1, as the k-th (k = 3 + (j-1)/n)
    # accrual of its ledger
    amount = "(100 + ((m * 37 + k * 101) %% 1900))::numeric"
    order_date = f"now() at time zone 'utc' - {ORDER_DAYS} * interval '1 day'"
    order_from = (
        "FROM (SELECT j, ((j - 1) %% %(n)s) + 1 AS m, 3 + (j - 1) / %(n)s AS k"
        "        FROM generate_series(1, %(orders)s) j) o"
    )
    _insert(
        cr,
        "pos_order",
        {
            "id": "%(o0)s + j",
            "name": "'Bench history/' || lpad(j::text, 7, '0')",
            "pos_reference": "'Order bench-' || j",
            "uuid": "'bench-history-' || j",
            "session_id": "%(session)s",
            "config_id": "%(config)s",
            "company_id": "%(company)s",
            "pricelist_id": "%(pricelist)s",
            "partner_id": "%(p0)s + m",
            "user_id": "%(uid)s",
            "state": "'done'",
            "sequence_number": "j",
            "amount_tax": "0",
            "amount_total": amount,
            "amount_paid": amount,
            "amount_return": "0",
            "currency_rate": "1",
            "nb_print": "0",
            "date_order": order_date,
            "create_uid": "%(uid)s",
            "write_uid": "%(uid)s",
            "create_date": order_date,
            "write_date": "now() at time zone 'utc'",
        },
        order_from,
        params,
    )
    _insert(
        cr,
        "pos_order_line",
        {
            "order_id": "%(o0)s + j",
            "company_id": "%(company)s",
            "product_id": "%(product)s",
            "name": "'Bench history/' || j",
            "full_product_name": "'Bench product'",
            "qty": amount + " / 100",
            "price_unit": "100",
            "price_subtotal": amount,
            "price_subtotal_incl": amount,
            "discount": "0",
            "create_uid": "%(uid)s",
            "write_uid": "%(uid)s",
            "create_date": "now() at time zone 'utc'",
            "write_date": "now() at time zone 'utc'",
        },
        order_from,
        params,
    )
    timings["pos_orders"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- ledger
    t0 = time.perf_counter()
    # entry (m, k) has id l0 + (m - 1) * K + k
    kind = (
        "CASE WHEN k = 1 THEN 'welcome' WHEN k = 2 AND m %% 3 <> 0 THEN 'expiry'"
        " WHEN k = 9 THEN 'redemption' WHEN k = 10 THEN 'pending'"
        " ELSE 'accrual' END"
    )
    entry_date = (
        "CASE kind WHEN 'welcome' THEN now() at time zone 'utc' - interval '500 days'"
        " WHEN 'expiry' THEN now() at time zone 'utc' - interval '134 days'"
        " WHEN 'redemption' THEN now() at time zone 'utc' - interval '5 days'"
        " WHEN 'pending' THEN now() at time zone 'utc' - interval '2 days'"
        " ELSE now() at time zone 'utc' - (k * 40 + m %% 30) * interval '1 day' END"
    )
    ledger_from = f"""
        FROM (SELECT m, k, {kind} AS kind,
                     (100 + ((m * 37 + k * 101) %% 1900))::numeric AS amount
                FROM generate_series(1, %(n)s) m, generate_series(1, %(k)s) k) e
    """
    _insert(
        cr,
        "loyalty_ledger",
        {
            "id": "%(l0)s + (m - 1) * %(k)s + k",
            "card_id": "%(c0)s + m",
            "partner_id": "%(p0)s + m",
            "program_id": "%(program)s",
            "company_id": "%(company)s",
            "entry_type": "CASE kind WHEN 'welcome' THEN 'bonus'"
            " WHEN 'pending' THEN 'accrual' ELSE kind END",
            "points": "CASE kind WHEN 'welcome' THEN 50 WHEN 'expiry' THEN -50"
            " WHEN 'redemption' THEN -20 ELSE round(amount * 0.05, 2) END",
            "state": "CASE kind WHEN 'pending' THEN 'pending'"
            " WHEN 'expiry' THEN 'posted' WHEN 'redemption' THEN 'posted'"
            " ELSE 'available' END",
            "date": entry_date,
            "expiry_date": f"CASE WHEN kind IN ('welcome', 'accrual', 'pending')"
            f" THEN ({entry_date})::date + 365 END",
            "available_date": "CASE WHEN kind = 'pending' THEN"
            " %(today)s::date + CASE WHEN m %% 10 = 0 THEN -1 ELSE 12 END END",
            "reason": "CASE kind WHEN 'welcome' THEN 'Welcome bonus'"
            " WHEN 'expiry' THEN 'Points expired' WHEN 'redemption' THEN 'Redemption'"
            " ELSE 'Purchase' END",
            "amount": "CASE WHEN kind IN ('accrual', 'pending') THEN amount"
            " WHEN kind = 'redemption' THEN 200 ELSE 0 END",
            "res_model": "CASE WHEN kind = 'accrual' AND k IN (3, 4) THEN 'pos.order'"
            " WHEN kind = 'welcome' THEN 'res.partner' END",
            "res_id": "CASE WHEN kind = 'accrual' AND k IN (3, 4)"
            " THEN %(o0)s + (k - 3) * %(n)s + m"
            " WHEN kind = 'welcome' THEN %(p0)s + m END",
            "idempotency_key": "CASE WHEN kind = 'welcome'"
            " THEN 'res.partner/' || (%(p0)s + m) || '/welcome'"
            " WHEN kind IN ('accrual', 'pending', 'redemption')"
            " THEN 'bench/' || m || '/' || k END",
            "counterpart_id": "CASE WHEN kind = 'expiry'"
            " THEN %(l0)s + (m - 1) * %(k)s + 1 END",
            "user_id": "%(uid)s",
            "create_uid": "%(uid)s",
            "write_uid": "%(uid)s",
            "create_date": entry_date,
            "write_date": entry_date,
        },
        ledger_from,
        params,
    )
    timings["ledger"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- balances, tiers
    t0 = time.perf_counter()
    cr.execute(
        """
        UPDATE loyalty_card c SET points = l.total
          FROM (SELECT card_id, SUM(points) AS total FROM loyalty_ledger
                 WHERE state IN ('available', 'posted') AND card_id > %(c0)s
              GROUP BY card_id) l
         WHERE l.card_id = c.id
        """,
        params,
    )
    cr.execute(
        """
        UPDATE res_partner p SET loyalty_tier_id = t.tier_id
          FROM (SELECT s.partner_id,
                       (SELECT id FROM loyalty_tier
                         WHERE program_id = %(program)s AND min_spend <= s.spend
                      ORDER BY min_spend DESC LIMIT 1) AS tier_id
                  FROM (SELECT partner_id, SUM(amount) AS spend FROM loyalty_ledger
                         WHERE entry_type IN ('accrual', 'reversal')
                           AND state <> 'cancelled' AND card_id > %(c0)s
                           AND date >= now() at time zone 'utc' - interval '12 months'
                      GROUP BY partner_id) s) t
         WHERE t.partner_id = p.id AND (p.id - %(p0)s) %% 10 <> 0
        """,
        params,
    )
    for table in LOADED_TABLES:
        _sync_sequence(cr, table)
    timings["balances_tiers"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _bulk_load_end(cr, indexes)
    timings["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cr.execute(
        "ANALYZE res_partner; ANALYZE loyalty_card; ANALYZE loyalty_ledger;"
        " ANALYZE pos_order; ANALYZE pos_order_line"
    )
    timings["analyze"] = time.perf_counter() - t0
    env.invalidate_all()
    return timings


def check(env):
    """The invariants the ORM would keep; raises if one is broken."""
    cr = env.cr
    mismatches = env["loyalty.ledger"]._loyalty_find_mismatches()
    if mismatches:
        raise AssertionError(f"{len(mismatches)} cards differ from their ledger")
    cr.execute("SELECT COUNT(*) FROM loyalty_card WHERE is_bonus_card AND points < 0")
    if cr.fetchone()[0]:
        raise AssertionError("negative balances")
    # card numbers: same check digit as Odoo's
    from odoo.tools.barcode import get_barcode_check_digit

    cr.execute(
        "SELECT code FROM loyalty_card WHERE is_bonus_card ORDER BY random() LIMIT 200"
    )
    bad = [
        c
        for (c,) in cr.fetchall()
        if not (
            len(c) == 13 and c.isdigit() and get_barcode_check_digit(c) == int(c[-1])
        )
    ]
    if bad:
        raise AssertionError(f"invalid EAN-13 card numbers: {bad[:5]}")
    # phones: what Odoo's normalization gives
    from odoo.addons.loyalty_crm.tools.phone import normalize_phone

    cr.execute(
        "SELECT phone, loyalty_phone FROM res_partner"
        " WHERE loyalty_is_member ORDER BY random() LIMIT 200"
    )
    bad = [p for p, lp in cr.fetchall() if normalize_phone(p, "RU") != lp]
    if bad:
        raise AssertionError(f"phones not in E.164: {bad[:5]}")
    cr.execute(
        """
        SELECT (SELECT COUNT(*) FROM res_partner WHERE loyalty_is_member),
               (SELECT COUNT(*) FROM loyalty_ledger),
               (SELECT COUNT(*) FROM pos_order),
               (SELECT COUNT(*) FROM loyalty_ledger WHERE state = 'pending'),
               (SELECT COUNT(*) FROM loyalty_ledger
                 WHERE expiry_date IS NOT NULL AND state IN ('available', 'posted'))
        """
    )
    members, entries, orders, pending, lots = cr.fetchone()
    return {
        "members": members,
        "ledger_entries": entries,
        "pos_orders": orders,
        "pending_entries": pending,
        "lots": lots,
    }
