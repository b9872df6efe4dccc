from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL


class LoyaltyCoalitionPartner(models.Model):
    """A partner business that accrues and redeems the program's points.

    It acts through the HTTP API with the key of its own API user, only for its
    program and within its active period; every ledger entry it makes records
    it, and the settlement report values them at its rates.
    """

    _name = "loyalty.coalition.partner"
    _description = "Coalition Partner"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Business",
        required=True,
        domain=[("is_company", "=", True)],
        help="The partner business.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="API User",
        required=True,
        help="The user whose API keys act for this partner (in the Loyalty API group).",
    )
    program_id = fields.Many2one(
        "loyalty.program",
        string="Bonus Program",
        required=True,
        domain=[("is_bonus_program", "=", True)],
    )
    company_id = fields.Many2one(related="program_id.company_id", store=True)
    currency_id = fields.Many2one(related="program_id.currency_id")
    earn_rate = fields.Float(
        digits=(16, 4),
        default=1.0,
        help="What the partner pays the program for each point it issues.",
    )
    spend_rate = fields.Float(
        digits=(16, 4),
        default=1.0,
        help="What the program pays the partner for each point spent there.",
    )
    date_start = fields.Date(string="Active From")
    date_end = fields.Date(string="Active Until")

    _sql_constraints = [
        ("user_unique", "UNIQUE(user_id)", "An API user acts for one partner only."),
        (
            "rates_positive",
            "CHECK (earn_rate >= 0 AND spend_rate >= 0)",
            "Rates cannot be negative.",
        ),
        (
            "period_order",
            "CHECK (date_start IS NULL OR date_end IS NULL OR date_start <= date_end)",
            "The period must end after it starts.",
        ),
    ]

    @api.onchange("program_id")
    def _onchange_program_id(self):
        if self.program_id:
            self.earn_rate = self.spend_rate = self.program_id.point_value

    @api.constrains("user_id")
    def _check_user_id(self):
        for partner in self:
            if not partner.user_id.has_group("loyalty_crm.group_loyalty_api"):
                raise ValidationError(
                    _(
                        "%(user)s must be in the Loyalty API group to act for a "
                        "coalition partner.",
                        user=partner.user_id.display_name,
                    )
                )

    def action_open_settlement(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "loyalty_crm.loyalty_coalition_settlement_action"
        )
        action["domain"] = [("coalition_partner_id", "=", self.id)]
        return action


class LoyaltyLedger(models.Model):
    _inherit = "loyalty.ledger"

    coalition_partner_id = fields.Many2one(
        "loyalty.coalition.partner",
        string="Coalition Partner",
        readonly=True,
        index="btree_not_null",
        help="The partner business the entry was made at.",
    )


class LoyaltyCoalitionSettlement(models.Model):
    """Points issued and redeemed at each coalition partner, and their value.

    One row per ledger entry made at a partner; group it by partner and by
    period (day, month...) in the pivot or the list to settle. Issued points
    are net of returns; the balance is what the partner owes the program
    (negative: what the program owes the partner).
    """

    _name = "loyalty.coalition.settlement"
    _description = "Coalition Settlement"
    _auto = False
    _order = "date desc, id desc"

    coalition_partner_id = fields.Many2one(
        "loyalty.coalition.partner", string="Coalition Partner", readonly=True
    )
    program_id = fields.Many2one("loyalty.program", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    entry_id = fields.Many2one("loyalty.ledger", string="Ledger Entry", readonly=True)
    date = fields.Datetime(readonly=True)
    points_issued = fields.Float(digits=(16, 2), readonly=True)
    points_redeemed = fields.Float(digits=(16, 2), readonly=True)
    value_issued = fields.Monetary(currency_field="currency_id", readonly=True)
    value_redeemed = fields.Monetary(currency_field="currency_id", readonly=True)
    value_at_point_value = fields.Monetary(
        string="Net Points at Program Value",
        currency_field="currency_id",
        readonly=True,
        help="(Issued - redeemed) points at the program's value of a point.",
    )
    balance = fields.Monetary(
        string="Partner Owes",
        currency_field="currency_id",
        readonly=True,
        help="Value issued minus value redeemed: positive, the partner owes the "
        "program; negative, the program owes the partner.",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT l.id, l.id AS entry_id, l.coalition_partner_id, l.program_id,
                   l.company_id, p.currency_id, l.date,
                   r.issued AS points_issued, r.redeemed AS points_redeemed,
                   r.issued * cp.earn_rate AS value_issued,
                   r.redeemed * cp.spend_rate AS value_redeemed,
                   (r.issued - r.redeemed) * COALESCE(p.point_value, 1)
                       AS value_at_point_value,
                   r.issued * cp.earn_rate - r.redeemed * cp.spend_rate AS balance
              FROM loyalty_ledger l
              JOIN loyalty_coalition_partner cp ON cp.id = l.coalition_partner_id
              JOIN loyalty_program p ON p.id = l.program_id
         LEFT JOIN loyalty_ledger c ON c.id = l.counterpart_id
        CROSS JOIN LATERAL (
                SELECT CASE
                         WHEN l.entry_type IN ('accrual', 'bonus') THEN l.points
                         -- a return takes the points back, or leaves them owed
                         WHEN l.entry_type IN ('reversal', 'debt')
                              AND c.entry_type = 'accrual'
                           THEN l.points
                         ELSE 0 END AS issued,
                       CASE
                         WHEN l.entry_type = 'redemption' THEN -l.points
                         WHEN l.entry_type = 'reversal' AND c.entry_type = 'redemption'
                           THEN -l.points
                         ELSE 0 END AS redeemed
               ) r
             WHERE l.state <> 'cancelled'
            """
        )
