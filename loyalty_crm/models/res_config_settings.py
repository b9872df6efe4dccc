from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    loyalty_bonus_program_id = fields.Many2one(
        related="company_id.loyalty_bonus_program_id", readonly=False
    )
    loyalty_phone_region = fields.Char(
        related="company_id.loyalty_phone_region", readonly=False
    )
    loyalty_required_field_ids = fields.Many2many(
        related="company_id.loyalty_required_field_ids", readonly=False
    )
    loyalty_campaign_cap = fields.Integer(
        related="company_id.loyalty_campaign_cap", readonly=False
    )
    loyalty_campaign_cap_days = fields.Integer(
        related="company_id.loyalty_campaign_cap_days", readonly=False
    )
    loyalty_quiet_start = fields.Integer(
        related="company_id.loyalty_quiet_start", readonly=False
    )
    loyalty_quiet_end = fields.Integer(
        related="company_id.loyalty_quiet_end", readonly=False
    )
