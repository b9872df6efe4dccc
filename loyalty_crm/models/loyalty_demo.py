"""Demo data that tells the program's story: a year of a Russian apparel retailer.

Deterministic (fixed random seed; dates relative to the day of installation).
Points move only through the ledger's own methods (accruals, redemptions,
bonuses, the expiry and release crons); afterwards the generated documents and
entries are dated back to the day they happened in the story (dates only,
never points), since the ledger stamps entries with the time of posting.
Loaded from ``demo/loyalty_crm_analytics_demo.xml`` only (never in tests).
"""

import random
from datetime import datetime, time, timedelta

from odoo import api, fields, models
from odoo.tools import SQL

FIRST_NAMES = {
    "female": [
        "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана",
        "Екатерина", "Юлия", "Дарья", "Анастасия", "Ксения", "Виктория", "Полина",
    ],
    "male": [
        "Александр", "Дмитрий", "Сергей", "Андрей", "Алексей", "Михаил", "Иван",
        "Николай", "Евгений", "Павел", "Артём", "Максим", "Владимир", "Роман",
    ],
}  # fmt: skip
SURNAMES = [
    ("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"), ("Васильев", "Васильева"), ("Петров", "Петрова"),
    ("Соколов", "Соколова"), ("Михайлов", "Михайлова"), ("Новиков", "Новикова"),
    ("Фёдоров", "Фёдорова"), ("Морозов", "Морозова"), ("Волков", "Волкова"),
    ("Алексеев", "Алексеева"), ("Лебедев", "Лебедева"), ("Семёнов", "Семёнова"),
    ("Егоров", "Егорова"), ("Павлов", "Павлова"), ("Козлов", "Козлова"),
    ("Степанов", "Степанова"), ("Николаев", "Николаева"), ("Орлов", "Орлова"),
]  # fmt: skip
CITIES = [("Москва", 45), ("Санкт-Петербург", 25), ("Казань", 10),
          ("Екатеринбург", 8), ("Новосибирск", 7), ("Нижний Новгород", 5)]  # fmt: skip
STORES = [
    ("Магазин «Тверская»", "Москва"),
    ("ТЦ «Мега Белая Дача»", "Москва"),
    ("Магазин «Невский»", "Санкт-Петербург"),
]
CATALOGUE = {
    "Платья": [("Платье вечернее", 5990), ("Платье трикотажное", 2490)],
    "Джинсы и брюки": [("Джинсы slim", 2990), ("Брюки льняные", 1990)],
    "Верхняя одежда": [("Пуховик", 9990), ("Тренч", 6990)],
    "Обувь": [("Кроссовки", 4490), ("Ботинки кожаные", 5990)],
    "Аксессуары": [("Шарф кашемировый", 1490), ("Сумка кожаная", 3990)],
}
PROMOTIONS = [
    # (name, days ago, points, share of members, days the points live)
    ("Весенняя распродажа: +300 баллов", 290, 300, 0.5, 30),
    ("День рождения магазина: +500 баллов", 200, 500, 0.6, 21),
    ("Чёрная пятница: +400 баллов", 120, 400, 0.7, 30),
    ("Новогодний подарок: +300 баллов", 40, 300, 0.8, 45),
]
HISTORY_DAYS = 455  # fifteen months: the last twelve have a past to compare with


class LoyaltyDashboard(models.TransientModel):
    _inherit = "loyalty.dashboard"

    @api.model
    def _loyalty_demo_generate(self, seed=20240601, members=200, non_members=60):  # noqa: C901
        rng = random.Random(seed)
        consent_rng = random.Random(seed + 1)
        env = self.env(context=dict(self.env.context, tracking_disable=True,
                                    loyalty_no_mail=True, mail_create_nolog=True,
                                    mail_notrack=True))  # fmt: skip
        today = fields.Date.context_today(self)
        company = env.company
        program = env["loyalty.program"]._get_bonus_program(company)
        program.write(
            {"roi_setup_cost": 600000, "roi_monthly_cost": 80000, "roi_margin": 35}
        )
        Ledger = env["loyalty.ledger"]
        # ---------------------------------------------------------- catalogue
        # prices include VAT, as Russian retail prices do (the company's sales
        # tax when it is included in prices: НДС 20 % in scripts/demo_company.py)
        vat = company.account_sale_tax_id.filtered("price_include")[:1]
        vat_rate = vat.amount / 100.0 if vat.amount_type == "percent" else 0.0

        def without_vat(amount):
            return company.currency_id.round(amount / (1.0 + vat_rate))

        parent = env["product.category"].create({"name": "Одежда и обувь"})
        products = []
        for categ_name, items in CATALOGUE.items():
            categ = env["product.category"].create(
                {"name": categ_name, "parent_id": parent.id}
            )
            for name, price in items:
                products.append(
                    env["product.product"].create(
                        {
                            "name": name,
                            "list_price": price,
                            "type": "consu",
                            "categ_id": categ.id,
                            "available_in_pos": True,
                            "taxes_id": [(6, 0, vat.ids)],
                        }
                    )
                )
        points_product = env["product.product"].create(
            {
                "name": "Оплата бонусными баллами",
                "type": "service",
                "list_price": 0,
                "available_in_pos": False,
                "taxes_id": [(5, 0, 0)],
            }
        )
        # ---------------------------------------------------------- stores
        configs = env["pos.config"].create([{"name": name} for name, _city in STORES])
        sessions = env["pos.session"]
        for config in configs:  # one session per store (its check is per record)
            sessions |= sessions.create({"config_id": config.id, "user_id": env.uid})
        online = env["crm.team"].create({"name": "Интернет-магазин"})
        # ---------------------------------------------------------- people
        Source = env["utm.source"]
        sources = [
            (env.ref("utm.utm_source_search_engine"), 20),
            (env.ref("loyalty_crm.demo_utm_source_telegram"), 10),
            (env.ref("utm.utm_source_newsletter"), 10),
            (Source.create({"name": "ВКонтакте", "loyalty_offered": True}), 20),
            (Source.create({"name": "Касса магазина"}), 40),
        ]
        channels = env["loyalty.notification.channel"].search([])
        channel_pick = channels.filtered(lambda c: c.code != "none")
        interests = env["product.category"].search([("parent_id", "=", parent.id)])

        def pick(weighted):
            return rng.choices([v for v, _w in weighted], [w for _v, w in weighted])[0]

        def person(index, member):
            gender = "female" if rng.random() < 0.62 else "male"
            first = rng.choice(FIRST_NAMES[gender])
            last = rng.choice(SURNAMES)[gender == "female"]
            vals = {
                "name": f"{first} {last}",
                "phone": f"+7916{2000000 + index:07d}",
                "city": pick(CITIES),
            }
            if member:
                age = int(min(max(rng.gauss(38, 11), 18), 75))
                vals.update(
                    {
                        "email": f"member{index}@example.com",
                        "loyalty_birthdate": today
                        - timedelta(days=age * 365 + rng.randint(0, 364)),
                        "loyalty_gender": gender,
                        "loyalty_marital_status": pick(
                            [
                                ("married", 50),
                                ("single", 30),
                                ("divorced", 15),
                                ("widowed", 5),
                            ]
                        ),  # fmt: skip
                        "loyalty_children": pick(
                            [("0", 35), ("1", 30), ("2", 25), ("3", 10)]
                        ),
                        "loyalty_employment": pick(
                            [
                                ("employed", 60),
                                ("self_employed", 15),
                                ("student", 10),
                                ("retired", 10),
                                ("unemployed", 5),
                            ]
                        ),  # fmt: skip
                        "loyalty_channel_ids": [
                            (
                                6,
                                0,
                                channel_pick.ids[: rng.randint(1, len(channel_pick))],
                            )
                        ]
                        if channel_pick
                        else [],
                        "loyalty_home_store_id": rng.choice(configs).id,
                        "loyalty_interest_ids": [
                            (6, 0, rng.sample(interests.ids, rng.randint(1, 3)))
                        ],
                        "loyalty_source_id": pick(sources).id,
                    }
                )
                if rng.random() < 0.25:  # not everybody fills in everything
                    vals.pop("loyalty_birthdate")
                    vals.pop("email")
            return vals

        Partner = env["res.partner"]
        member_partners = Partner.create([person(i, True) for i in range(members)])
        others = Partner.create(
            [person(members + i, False) for i in range(non_members)]
        )
        # enrolment: a third before the year, the rest spread over it
        joined = {}
        for partner in member_partners:
            days_ago = (
                rng.randint(HISTORY_DAYS - 60, HISTORY_DAYS + 120)
                if rng.random() < 0.35
                else rng.randint(5, HISTORY_DAYS - 60)
            )
            joined[partner.id] = today - timedelta(days=days_ago)
            # most of a real base agrees to offers at enrolment (own stream:
            # the rest of the story does not change)
            partner._loyalty_enrol(consent=consent_rng.random() < 0.8)
        cards = {p.id: p.loyalty_card_id for p in member_partners}
        # the loyal fifth: they buy more often and more at a time
        loyal = set(rng.sample(member_partners.ids, members // 5))

        def stamp(day):
            return datetime.combine(day, time(rng.randint(10, 20), rng.randint(0, 59)))

        # ---------------------------------------------------------- orders
        start = today - timedelta(days=HISTORY_DAYS)
        plan = []  # (date, partner or None, channel, store, basket)
        for partner in member_partners | others:
            member = partner.id in cards
            per_month = (1.5 if partner.id in loyal else 0.6) if member else 0.35
            day = start
            while True:
                day += timedelta(days=int(rng.expovariate(per_month / 30.0)) + 1)
                if day > today:
                    break
                is_member = member and day >= joined[partner.id]
                if member and not is_member and rng.random() < 0.5:
                    continue  # before joining they came less often
                size = rng.choices([1, 2, 3], [65, 27, 8])[0]
                if is_member:
                    size += rng.random() < (0.6 if partner.id in loyal else 0.3)
                basket = rng.sample(products, min(size, len(products)))
                # online orders earn points on confirmation: members only
                channel = (
                    "sale" if rng.random() < (0.05 if is_member else 0.02) else "pos"
                )
                if member and not is_member:
                    channel = "pos"
                plan.append(
                    (day, partner, channel, rng.randrange(len(configs)), basket)
                )
        for _i in range(250):  # anonymous till receipts
            day = start + timedelta(days=rng.randint(0, HISTORY_DAYS))
            size = rng.choices([1, 2, 3], [60, 30, 10])[0]
            plan.append(
                (
                    day,
                    None,
                    "pos",
                    rng.randrange(len(configs)),
                    rng.sample(products, size),
                )
            )
        plan.sort(key=lambda row: (row[0], row[1].id if row[1] else 0))

        counters = [0] * len(configs)
        pos_vals, sale_vals = [], []
        for day, partner, channel, store, basket in plan:
            when = stamp(day)
            lines = [(p, 1.0 if rng.random() < 0.85 else 2.0) for p in basket]
            if channel == "pos":
                counters[store] += 1
                total = sum(p.list_price * q for p, q in lines)
                tax = sum(
                    p.list_price * q - without_vat(p.list_price * q) for p, q in lines
                )
                pos_vals.append(
                    {
                        "session_id": sessions[store].id,
                        "name": f"{configs[store].name}/{counters[store]:05d}",
                        "partner_id": partner.id if partner else False,
                        "date_order": when,
                        "state": "paid",
                        "amount_tax": company.currency_id.round(tax),
                        "amount_total": total,
                        "amount_paid": total,
                        "amount_return": 0.0,
                        "lines": [
                            (0, 0, {
                                "product_id": p.id,
                                "full_product_name": p.name,
                                "qty": q,
                                "price_unit": p.list_price,
                                "price_subtotal": without_vat(p.list_price * q),
                                "price_subtotal_incl": p.list_price * q,
                                "tax_ids": [(6, 0, vat.ids)],
                            })
                            for p, q in lines
                        ],
                    }
                )  # fmt: skip
            else:
                sale_vals.append(
                    {
                        "partner_id": partner.id,
                        "team_id": online.id,
                        "date_order": when,
                        "order_line": [
                            (0, 0, {"product_id": p.id, "product_uom_qty": q,
                                    "price_unit": p.list_price,
                                    "tax_id": [(6, 0, vat.ids)]})
                            for p, q in lines
                        ],
                    }
                )  # fmt: skip
        pos_orders = env["pos.order"].create(pos_vals)
        sale_orders = env["sale.order"].create(sale_vals)
        sale_dates = {order.id: order.date_order for order in sale_orders}
        # ---------------------------------------------------------- the story, in order
        events = [(o.date_order, "pos", o) for o in pos_orders if o.partner_id]
        events += [(o.date_order, "sale", o) for o in sale_orders]
        for name, days_ago, points, share, lifetime in PROMOTIONS:
            campaign = env["utm.campaign"].create({"name": name})
            events.append(
                (stamp(today - timedelta(days=days_ago)), "promo",
                 (campaign, points, share, lifetime))
            )  # fmt: skip
        events.sort(key=lambda event: (event[0], event[1]))
        back = []  # (ledger entry ids, date) to date back
        pending_days = program.pending_days

        def settle(when):
            """Date back what was just posted, then release what is due by then."""
            for entry_ids, entry_date in back:
                self._demo_date_back(entry_ids, entry_date, pending_days)
            back.clear()
            due = Ledger.sudo().search(
                [("state", "=", "pending"), ("available_date", "<=", when.date())]
            )
            Ledger._lock_cards(due.card_id)
            due.write({"state": "available"})

        paid_with_points = []  # (POS order, discount, amount paid)
        last_day = None
        for when, kind, record in events:
            if when.date() != last_day:
                settle(when)
                last_day = when.date()
            if kind == "promo":
                campaign, points, share, lifetime = record
                for partner in member_partners:
                    if joined[partner.id] <= when.date() and rng.random() < share:
                        entry = Ledger._post_once(
                            cards[partner.id],
                            points,
                            "bonus",
                            f"promo/{campaign.id}/{partner.id}",
                            reason=campaign.name,
                            source=campaign,
                            expiry_date=when.date() + timedelta(days=lifetime),
                        )
                        back.append((entry.ids, when))
                continue
            if kind == "sale":
                record.action_confirm()
                new = Ledger.sudo().search(
                    [("res_model", "=", "sale.order"), ("res_id", "=", record.id)]
                )
                back.append((new.ids, when))
                continue
            partner = record.partner_id.commercial_partner_id
            card = cards.get(partner.id)
            if not card or joined[partner.id] > when.date():
                continue
            # a POS receipt: sometimes partly paid with points, then points earned
            card.invalidate_recordset(["points"])
            amount = record.amount_total
            if (
                card.points >= max(program.min_balance_to_spend, 1)
                and rng.random() < 0.45
            ):
                cap = amount * program.max_redeem_share / 100.0 / program.point_value
                spend = float(int(min(card.points, cap)))
                if spend > 0:
                    entry = Ledger._post_once(
                        card,
                        -spend,
                        "redemption",
                        f"pos.order/{record.id}/redemption/0",
                        reason=record.name,
                        source=record,
                        amount=amount,
                    )
                    back.append((entry.ids, when))
                    discount = spend * program.point_value
                    amount -= discount
                    paid_with_points.append((record, discount, amount))
            entry = Ledger._accrue_purchase(
                card,
                amount,
                f"pos.order/{record.id}/accrual/0",
                reference=record.name,
                source=record,
            )
            back.append((entry.ids, when))
        settle(datetime.combine(today, time.max))
        # the receipts show the part paid with points (one batch)
        env["pos.order.line"].create(
            [
                {
                    "order_id": order.id,
                    "product_id": points_product.id,
                    "full_product_name": points_product.name,
                    "qty": 1,
                    "price_unit": -discount,
                    "price_subtotal": -discount,
                    "price_subtotal_incl": -discount,
                }
                for order, discount, _amount in paid_with_points
            ]
        )
        env.flush_all()
        for order, _discount, amount in paid_with_points:
            env.cr.execute(
                SQL(
                    # (the VAT stays: the points line carries no tax, as at the till)
                    "UPDATE pos_order SET amount_total = %s, amount_paid = %s"
                    " WHERE id = %s",
                    amount,
                    amount,
                    order.id,
                )
            )
        # ---------------------------------------------------------- dating back
        # members joined on their day; their welcome entries too
        for partner in member_partners:
            since = datetime.combine(joined[partner.id], time(12, 0))
            env.cr.execute(
                SQL(
                    "UPDATE loyalty_card SET create_date = %s WHERE partner_id = %s",
                    since,
                    partner.id,
                )
            )
            entries = Ledger.sudo().search(
                [
                    ("card_id", "=", cards[partner.id].id),
                    ("res_model", "=", "res.partner"),
                ]
            )
            self._demo_date_back(entries.ids, since, pending_days)
        for order in sale_orders:
            env.cr.execute(
                SQL(
                    "UPDATE sale_order SET date_order = %s WHERE id = %s",
                    sale_dates[order.id],
                    order.id,
                )
            )
        sessions.write({"state": "closed", "stop_at": fields.Datetime.now()})
        env.invalidate_all()
        # the nightly jobs: promotional points not spent in time expire, tiers
        Ledger._cron_expire()
        env.cr.execute(
            SQL(
                """
                UPDATE loyalty_ledger x
                   SET date = lot.expiry_date + time '03:00'
                  FROM loyalty_ledger lot
                 WHERE x.entry_type = 'expiry' AND lot.id = x.counterpart_id
                   AND lot.expiry_date IS NOT NULL
                """
            )
        )
        env.invalidate_all()
        env["res.partner"]._cron_recompute_tiers()
        return True

    @api.model
    def _demo_date_back(self, entry_ids, when, pending_days):
        """Date ledger entries and their lots' windows back to ``when`` (demo)."""
        if not entry_ids:
            return
        self.env.flush_all()
        when = fields.Datetime.to_datetime(when)
        self.env.cr.execute(
            SQL(
                """
                UPDATE loyalty_ledger
                   SET date = %(when)s,
                       create_date = %(when)s,
                       available_date = CASE WHEN available_date IS NOT NULL
                           THEN %(day)s::date + %(pending)s END,
                       expiry_date = CASE
                           WHEN expiry_date IS NULL THEN NULL
                           WHEN idempotency_key LIKE %(promo)s THEN expiry_date
                           ELSE expiry_date - (%(today)s::date - %(day)s::date) END
                 WHERE id IN %(ids)s
                """,
                when=when,
                day=when.date(),
                pending=pending_days,
                promo="promo/%",
                today=fields.Date.context_today(self),
                ids=tuple(entry_ids),
            )
        )
        self.env["loyalty.ledger"].invalidate_model(
            ["date", "available_date", "expiry_date"]
        )

    @api.model
    def _loyalty_demo_campaign_sent_ago(self, campaign_xmlid, days):
        """Date a sent demo campaign ``days`` back, so that its results show
        what the members bought after it (conversion against the control
        group) instead of a campaign sent a second ago."""
        campaign = self.env.ref(campaign_xmlid)
        self.env.flush_all()
        when = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        self.env.cr.execute(
            SQL(
                "UPDATE loyalty_campaign_occurrence SET date = %s"
                " WHERE campaign_id = %s",
                when,
                campaign.id,
            )
        )
        self.env.cr.execute(
            SQL(
                "UPDATE mailing_trace"
                " SET create_date = %(when)s, sent_datetime = %(when)s"
                " WHERE mass_mailing_id IN %(mailings)s",
                when=when,
                mailings=tuple(campaign.mailing_ids.ids) or (0,),
            )
        )
        self.env.cr.execute(
            SQL(
                "UPDATE mailing_mailing SET sent_date = %s WHERE id IN %s",
                when,
                tuple(campaign.mailing_ids.ids) or (0,),
            )
        )
        campaign.write({"trigger_since": when})
        self.env.invalidate_all()
        return True
