"""The members' purchase statistics in loyalty.member.stats: what the nightly
RFM job computes, that it leaves res_partner alone, and that the partner's
fields read and search them as when they were columns of res_partner."""

import importlib.util
from datetime import timedelta

from odoo import fields
from odoo.modules.module import get_module_path
from odoo.tests import tagged
from odoo.tools import SQL

from ..models.res_partner_marketing import STATS
from .test_campaigns import CampaignCase

# the partner's statistics fields, in the order the tests give their values
STATS_FIELDS = tuple(STATS)


@tagged("post_install", "-at_install")
class TestMemberStats(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env["res.partner"])

    def _known_dataset(self):
        """Five buyers and a member who never bought; each buyer's purchases
        (days ago, amount) chosen so that every score is known."""
        now = fields.Datetime.now()
        purchases = {
            "Old": [(400, 100)],  # bought, but not in the last 365 days
            "A": [(200, 100)],
            "B": [(100, 200), (60, 200)],
            "C": [(50, 300), (20, 300), (10, 300)],
            "D": [(45, 1000), (25, 1000), (5, 1000), (0, 1000)],
        }
        members = {name: self._fan(f"Stats {name}") for name in [*purchases, "Never"]}
        for name, orders in purchases.items():
            for days, amount in orders:
                self._order(members[name], amount, now - timedelta(days=days))
        return members

    def _partner_row_versions(self, partners):
        # a row's ctid changes with every UPDATE (HOT or not), even within the
        # transaction that last wrote it (where xmin would not)
        return dict(
            self.env.execute_query(
                SQL(
                    "SELECT id, ctid::text FROM res_partner WHERE id IN %s",
                    tuple(partners.ids),
                )
            )
        )

    def test_known_dataset_scores_counts_and_no_row_without_purchase(self):
        members = self._known_dataset()
        self.env["res.partner"]._cron_compute_rfm()
        ago = lambda days: fields.Date.subtract(self.today, days=days)  # noqa: E731
        # recency: the five buyers by last purchase, quintiles 1 to 5;
        # frequency and monetary: the four who bought within 365 days
        expected = {
            "Old": (1, 0, 0, ago(400), 0, 0, 0, 0),
            "A": (2, 2, 2, ago(200), 0, 0, 1, 100),
            "B": (3, 3, 3, ago(60), 0, 1, 2, 400),
            "C": (4, 4, 4, ago(10), 2, 3, 3, 900),
            "D": (5, 5, 5, self.today, 3, 4, 4, 4000),
            "Never": (0, 0, 0, False, 0, 0, 0, 0),
        }
        for name, values in expected.items():
            with self.subTest(member=name):
                partner = members[name]
                self.assertEqual(
                    tuple(partner[fname] for fname in STATS_FIELDS), values
                )
        Stats = self.env["loyalty.member.stats"]
        everyone = self.env["res.partner"].browse(m.id for m in members.values())
        self.assertEqual(
            Stats.search([("partner_id", "in", everyone.ids)]).partner_id,
            everyone - members["Never"],
        )
        self.assertEqual(members["D"].loyalty_days_since_purchase, 0)
        self.assertEqual(members["C"].loyalty_days_since_purchase, 10)
        self.assertEqual(members["Never"].loyalty_days_since_purchase, 0)

    def test_job_writes_only_its_own_table(self):
        members = self._known_dataset()
        partners = self.env["res.partner"].browse(m.id for m in members.values())
        self.env.flush_all()
        before = self._partner_row_versions(partners)
        write_dates = {p.id: p.write_date for p in partners}
        Partner = self.env["res.partner"]
        queries = self.cr.sql_log_count
        Partner._cron_compute_rfm()
        # the settings, the statistics, the preferred categories, a reset
        self.assertEqual(self.cr.sql_log_count - queries, 4)
        self.env.flush_all()
        self.assertEqual(self._partner_row_versions(partners), before)
        partners.invalidate_recordset()
        self.assertEqual({p.id: p.write_date for p in partners}, write_dates)
        Stats = self.env["loyalty.member.stats"]
        rows = Stats.search([("partner_id", "in", partners.ids)])
        self.assertEqual(len(rows), 5)
        # the next night with nothing bought since: no row written either
        versions = dict(
            self.env.execute_query(
                SQL(
                    "SELECT id, ctid::text FROM loyalty_member_stats WHERE id IN %s",
                    tuple(rows.ids),
                )
            )
        )
        Partner._cron_compute_rfm()
        self.assertEqual(
            dict(
                self.env.execute_query(
                    SQL(
                        "SELECT id, ctid::text FROM loyalty_member_stats "
                        "WHERE id IN %s",
                        tuple(rows.ids),
                    )
                )
            ),
            versions,
        )
        # a member whose purchases are gone loses the row (scores back to 0)
        members["A"].sale_order_ids.with_context(
            disable_cancel_warning=True
        )._action_cancel()
        Partner._cron_compute_rfm()
        self.assertFalse(members["A"].loyalty_stats_ids)
        self.assertEqual(members["A"].loyalty_rfm_recency, 0)
        self.assertFalse(members["A"].loyalty_last_purchase_date)

    def test_stats_row_goes_with_its_partner(self):
        partner = self.env["res.partner"].create({"name": "Gone Soon"})
        row = self.env["loyalty.member.stats"].create(
            {
                "partner_id": partner.id,
                "rfm_recency": 3,
                "rfm_frequency": 2,
                "rfm_monetary": 1,
                "last_purchase_date": self.today,
                "orders_30d": 1,
                "orders_90d": 1,
                "orders_365d": 1,
                "revenue_365d": 10,
            }
        )
        self.assertEqual(partner.loyalty_rfm_recency, 3)
        partner.unlink()
        self.assertFalse(row.exists())

    def test_searches_on_members_with_and_without_statistics(self):
        members = self._known_dataset()
        self.env["res.partner"]._cron_compute_rfm()
        everyone = self.env["res.partner"].browse(m.id for m in members.values())
        Partner = self.env["res.partner"]
        week_ago = fields.Date.subtract(self.today, days=7)
        conditions = [
            ("loyalty_rfm_recency", ">=", 4),
            ("loyalty_rfm_recency", "=", 0),
            ("loyalty_rfm_recency", "<", 3),
            ("loyalty_rfm_recency", "!=", 2),
            ("loyalty_rfm_frequency", "in", [0, 5]),
            ("loyalty_rfm_frequency", "not in", [0, 5]),
            ("loyalty_rfm_monetary", "=", False),
            ("loyalty_orders_30d", ">", 0),
            ("loyalty_orders_30d", "<=", 2),
            ("loyalty_orders_90d", ">=", 3),
            ("loyalty_orders_365d", "=", 0),
            ("loyalty_revenue_365d", ">", 500),
            ("loyalty_revenue_365d", "<", 500),
            ("loyalty_last_purchase_date", "=", False),
            ("loyalty_last_purchase_date", "!=", False),
            ("loyalty_last_purchase_date", ">=", week_ago),
            ("loyalty_last_purchase_date", "<", week_ago),
            ("loyalty_last_purchase_date", "!=", self.today),
        ]
        for condition in conditions:
            with self.subTest(condition=condition):
                # as the values read: the ORM's own evaluation of the domain
                self.assertEqual(
                    Partner.search([("id", "in", everyone.ids), condition]),
                    everyone.filtered_domain([condition]),
                    condition,
                )
        # the days since the last purchase: 0 shown for a member who never
        # bought, who matches none of its searches; for the days without
        # purchase, any "more than"
        Never = members["Never"]
        for condition, expected in [
            (("loyalty_days_since_purchase", ">=", 50), ["Old", "A", "B"]),
            (("loyalty_days_since_purchase", "<=", 10), ["C", "D"]),
            (("loyalty_days_since_purchase", "=", 10), ["C"]),
            (("loyalty_days_without_purchase", ">=", 50), ["Old", "A", "B", "Never"]),
            (
                ("loyalty_days_without_purchase", ">", 0),
                ["Old", "A", "B", "C", "Never"],
            ),
            (("loyalty_days_without_purchase", "<=", 10), ["C", "D"]),
            (("loyalty_days_without_purchase", "=", 0), ["D"]),
        ]:
            with self.subTest(condition=condition):
                self.assertEqual(
                    Partner.search([("id", "in", everyone.ids), condition]),
                    Partner.browse(members[name].id for name in expected),
                    condition,
                )
        self.assertEqual(Never.loyalty_days_without_purchase, 0)
        # some by name, to be sure of what the comparison above compares
        self.assertEqual(
            Partner.search(
                [("id", "in", everyone.ids), ("loyalty_rfm_recency", "=", 0)]
            ),
            members["Never"],
        )
        self.assertEqual(
            Partner.search(
                [
                    ("id", "in", everyone.ids),
                    ("loyalty_days_without_purchase", ">=", 50),
                ]
            ),
            members["Old"] | members["A"] | members["B"] | members["Never"],
        )

        # the segments' conditions on the same members
        Segment = self.env["loyalty.segment"]
        fans = repr([("id", "in", everyone.ids)])

        def segment(**vals):
            found = Segment.create(dict(name="S", extra_domain=fans, **vals))
            self.assertEqual(
                found.member_count, len(Partner.search(found._build_domain()))
            )
            return Partner.search(found._build_domain())

        self.assertEqual(segment(rfm_recency_min="4"), members["C"] | members["D"])
        self.assertEqual(segment(rfm_monetary_min="5"), members["D"])
        self.assertEqual(segment(bought_within_days=30), members["C"] | members["D"])
        # never bought: inactive for any number of days
        self.assertEqual(
            segment(inactive_days=100),
            members["Old"] | members["A"] | members["Never"],
        )
        self.assertEqual(
            segment(purchase_count_min=3, purchase_period="90"),
            members["C"] | members["D"],
        )
        self.assertEqual(segment(inactive_days=30, rfm_frequency_min="3"), members["B"])

    def test_nobody_writes_the_statistics_through_the_partner(self):
        members = self._known_dataset()
        self.env["res.partner"]._cron_compute_rfm()
        member = members["A"]
        # the fields are computed from the job's table: a write changes nothing
        member.write({"loyalty_rfm_monetary": 5, "loyalty_orders_365d": 99})
        member.invalidate_recordset()
        self.assertEqual(member.loyalty_rfm_monetary, 2)
        self.assertEqual(member.loyalty_orders_365d, 1)

    def test_upgrade_moves_the_values_stored_on_the_partner(self):
        """18.0.1.0.0 kept the statistics in columns of res_partner: the
        migration copies them into loyalty_member_stats and drops the columns."""
        buyer, never = self._fan("Stored Buyer"), self._fan("Stored Never")
        self.env.flush_all()
        columns = {
            "loyalty_rfm_recency": "int4",
            "loyalty_rfm_frequency": "int4",
            "loyalty_rfm_monetary": "int4",
            "loyalty_last_purchase_date": "date",
            "loyalty_orders_30d": "int4",
            "loyalty_orders_90d": "int4",
            "loyalty_orders_365d": "int4",
            "loyalty_revenue_365d": "numeric",
        }
        self.env.execute_query(
            SQL(
                "ALTER TABLE res_partner %s",
                SQL(", ").join(
                    SQL("ADD COLUMN %s %s", SQL.identifier(col), SQL(kind))
                    for col, kind in columns.items()
                ),
            )
        )
        last = fields.Date.subtract(self.today, days=3)
        self.env.execute_query(
            SQL(
                """
                UPDATE res_partner SET loyalty_rfm_recency = 4,
                       loyalty_rfm_frequency = 3, loyalty_rfm_monetary = 5,
                       loyalty_last_purchase_date = %s, loyalty_orders_30d = 2,
                       loyalty_orders_90d = 6, loyalty_orders_365d = 9,
                       loyalty_revenue_365d = 1234.5
                 WHERE id = %s
                """,
                last,
                buyer.id,
            )
        )
        # the job of 18.0.1.0.0 wrote zeros for a member without purchases
        self.env.execute_query(
            SQL(
                "UPDATE res_partner SET loyalty_rfm_recency = 0, "
                "loyalty_orders_365d = 0 WHERE id = %s",
                never.id,
            )
        )
        path = f"{get_module_path('loyalty_crm')}/migrations/18.0.1.1.0/post-migrate.py"
        spec = importlib.util.spec_from_file_location("loyalty_crm_migration", path)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        script.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertEqual(
            tuple(buyer[fname] for fname in STATS_FIELDS),
            (4, 3, 5, last, 2, 6, 9, 1234.5),
        )
        self.assertFalse(never.loyalty_stats_ids)
        self.assertEqual(never.loyalty_rfm_recency, 0)
        remaining = self.env.execute_query(
            SQL(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'res_partner' AND column_name IN %s",
                tuple(columns),
            )
        )
        self.assertEqual(remaining, [])
        # run again (an upgrade started twice): nothing to do
        script.migrate(self.env.cr, "18.0.1.0.0")
