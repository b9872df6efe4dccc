from odoo import api, fields, models


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    loyalty_campaign_id = fields.Many2one(
        "loyalty.campaign",
        string="Loyalty Campaign",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    loyalty_lang = fields.Char(string="Campaign Language", readonly=True)
    loyalty_segment_id = fields.Many2one(
        "loyalty.segment",
        string="Member Segment",
        help="Take the recipients from a member segment.",
    )

    @api.onchange("loyalty_segment_id")
    def _onchange_loyalty_segment_id(self):
        if self.loyalty_segment_id:
            self.mailing_model_id = self.env["ir.model"]._get("res.partner")
            self.mailing_domain = repr(self.loyalty_segment_id._build_domain())

    def _get_seen_list(self):
        # A campaign writes to a member once per occurrence (a birthday a year,
        # each tier change...): its own occurrence table refuses duplicates.
        if self.loyalty_campaign_id:
            return set()
        return super()._get_seen_list()

    def _get_seen_list_sms(self):
        if self.loyalty_campaign_id:
            return [], []
        return super()._get_seen_list_sms()
