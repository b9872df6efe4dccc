"""Every posting is one ``INSERT`` (``_create_entries(in_sql=True)``): what it
stores, and what it leaves in cache, is what Odoo's create stores and caches."""

from odoo import fields
from odoo.tests import new_test_user, tagged

from .common import LoyaltyCase

# what differs from one insert to the next whatever the path
SKIPPED = {"id", "create_date", "write_date", "date"}


@tagged("post_install", "-at_install")
class TestLedgerSql(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id
        cls.Ledger._post(cls.card, 500, "accrual")
        cls.coalition = cls.env["loyalty.coalition.partner"].create(
            {
                "name": "Кафе «Берёзка»",
                "partner_id": cls.env["res.partner"]
                .create({"name": "ООО «Берёзка»", "is_company": True})
                .id,
                "user_id": new_test_user(
                    cls.env, "lc_sql_cp", groups="loyalty_crm.group_loyalty_api"
                ).id,
                "program_id": cls.card.program_id.id,
            }
        )

    def _vals_list(self):
        """One of each kind of entry a channel posts, with the awkward values:
        amounts to round in the currency (half away from zero), dates, keys."""
        lot = self.card.ledger_ids[:1]
        entry = self.Ledger._entry_vals
        today = fields.Date.today()
        return [
            entry(
                self.card,
                12.34,
                "accrual",
                state="pending",
                available_date=today,
                reason="Покупка",
                idempotency_key="sql/accrual",
                amount=123.455,
                coalition_partner=self.coalition,
                pos_order_uuid="a1b2",
            ),
            entry(self.card, -10.5, "redemption", amount=-10.005, reason="Списание"),
            entry(self.card, 7, "bonus", expiry_date=today, source=self.member),
            entry(self.card, -3, "reversal", counterpart=lot, lot_closing=True),
            entry(self.card, -2, "adjustment", reason="Исправление"),
            entry(self.card, 0, "reversal", amount=-99.999, counterpart=lot),
        ]

    def _columns(self):
        return [
            name
            for name, field in self.Ledger._fields.items()
            if field.store and field.column_type and name not in SKIPPED
        ]

    def _stored(self, entries):
        columns = self._columns()
        self.env.flush_all()
        self.env.cr.execute(
            f"SELECT {', '.join(columns)} FROM loyalty_ledger WHERE id IN %s"
            " ORDER BY id",
            [tuple(entries.ids)],
        )
        return [dict(zip(columns, row, strict=True)) for row in self.env.cr.fetchall()]

    def _cached(self, entries):
        return [
            {name: entry[name] for name in self._columns() + ["currency_id"]}
            for entry in entries
        ]

    def test_the_insert_stores_and_caches_what_the_orm_does(self):
        for vals in self._vals_list():
            with self.subTest(entry_type=vals["entry_type"], amount=vals["amount"]):
                orm = self.Ledger._create_entries([vals])
                # idempotency keys are unique: the other path's is "<key>/sql"
                key = vals["idempotency_key"] and vals["idempotency_key"] + "/sql"
                sql = self.Ledger._create_entries(
                    [dict(vals, idempotency_key=key)], in_sql=True
                )
                orm_cached, sql_cached = self._cached(orm), self._cached(sql)
                self.env.invalidate_all()
                orm_stored = self._stored(orm)
                if key:
                    orm_cached[0]["idempotency_key"] = key
                    orm_stored[0]["idempotency_key"] = key
                self.assertEqual(sql_cached, orm_cached)
                self.assertEqual(self._stored(sql), orm_stored)
        amounts = self.card.ledger_ids.mapped("amount")
        self.assertIn(123.46, amounts)  # 123.455: half away from zero
        self.assertIn(-10.01, amounts)
        self.assertIn(-100.0, amounts)

    def test_a_currency_with_a_coarse_rounding(self):
        currency = self.card.program_id.currency_id
        currency.rounding = 0.05
        vals = self._vals_list()[0]
        for amount in (10.024, 10.025, 10.074, -10.025):
            vals = dict(vals, amount=amount, idempotency_key=None)
            with self.subTest(amount=amount):
                orm = self.Ledger._create_entries([vals])
                sql = self.Ledger._create_entries([vals], in_sql=True)
                self.assertEqual(sql.amount, orm.amount)
                self.env.invalidate_all()
                self.assertEqual(self._stored(sql), self._stored(orm))

    def test_the_card_sees_its_new_entry(self):
        """A card whose entries were read in the transaction sees the new one, as
        after Odoo's create; the new entry's fields are in cache."""
        before = self.card.ledger_ids
        self.assertEqual(before.mapped("card_id"), self.card)
        vals = self.Ledger._entry_vals(self.card, 5, "accrual")
        entry = self.Ledger._create_entries([vals], in_sql=True)
        self.assertEqual(self.card.ledger_ids, before | entry)
        with self.assertQueryCount(0):
            self.assertEqual(entry.card_id, self.card)
            self.assertEqual(entry.partner_id, self.member)
            self.assertEqual(entry.points, 5)
        self.card._loyalty_sync_points()
        self.assertEqual(self.card.points, 505)
