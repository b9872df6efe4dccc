from odoo import fields, models, tools
from odoo.tools import SQL


class LoyaltyAcquisitionReport(models.Model):
    """New members per acquisition channel: their first 90 days and retention."""

    _name = "loyalty.acquisition.report"
    _description = "Member Acquisition Report"
    _auto = False
    _order = "enrol_date desc"

    partner_id = fields.Many2one("res.partner", string="Member", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    enrol_date = fields.Datetime(string="Enrolled On", readonly=True)
    source_id = fields.Many2one("utm.source", string="Source", readonly=True)
    medium_id = fields.Many2one("utm.medium", string="Medium", readonly=True)
    campaign_id = fields.Many2one("utm.campaign", string="Campaign", readonly=True)
    member_count = fields.Integer(string="New Members", readonly=True)
    spend_90d = fields.Float(
        string="Spend (First 90 Days)", readonly=True, digits=(16, 2)
    )
    orders_90d = fields.Integer(string="Purchases (First 90 Days)", readonly=True)
    retained_count = fields.Integer(
        string="Retained",
        readonly=True,
        help="1 when the member bought again after their first 90 days.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE OR REPLACE VIEW %s AS (
                SELECT p.id AS id, p.id AS partner_id, p.company_id,
                       date_trunc('second', p.loyalty_member_since) AS enrol_date,
                       p.loyalty_source_id AS source_id,
                       p.loyalty_medium_id AS medium_id,
                       p.loyalty_campaign_id AS campaign_id,
                       1 AS member_count,
                       COALESCE(f.spend, 0)::float AS spend_90d,
                       COALESCE(f.n, 0)::int AS orders_90d,
                       CASE WHEN r.partner_id IS NULL THEN 0 ELSE 1 END
                           AS retained_count
                  FROM res_partner p
             LEFT JOIN LATERAL (
                       SELECT SUM(pu.amount) AS spend, COUNT(*) AS n
                         FROM loyalty_purchase pu
                        WHERE pu.partner_id = p.id AND pu.is_member
                          AND pu.date < p.loyalty_member_since + interval '90 days'
                       ) f ON TRUE
             LEFT JOIN LATERAL (
                       SELECT pu.partner_id
                         FROM loyalty_purchase pu
                        WHERE pu.partner_id = p.id
                          AND pu.date >= p.loyalty_member_since + interval '90 days'
                        LIMIT 1
                       ) r ON TRUE
                 WHERE p.loyalty_is_member AND p.active
                   AND p.loyalty_member_since IS NOT NULL
                )
                """,
                SQL.identifier(self._table),
            )
        )
