from odoo import api, fields, models


class LoyaltyCampaignLaunchWizard(models.TransientModel):
    """Before a campaign goes out: "will reach N of M members", why not the
    others, and a confirmation."""

    _name = "loyalty.campaign.launch.wizard"
    _description = "Launch a Campaign"

    campaign_id = fields.Many2one(
        "loyalty.campaign", required=True, ondelete="cascade", readonly=True
    )
    channel = fields.Selection(related="campaign_id.channel")
    launch_type = fields.Selection(related="campaign_id.launch_type")
    schedule_date = fields.Datetime(related="campaign_id.schedule_date")
    audience_count = fields.Integer(
        string="Members in the Audience", compute="_compute_estimate"
    )
    reach_count = fields.Integer(string="Will Receive It", compute="_compute_estimate")
    control_count = fields.Integer(string="Control Group", compute="_compute_estimate")
    no_consent_count = fields.Integer(
        string="No Marketing Consent", compute="_compute_estimate"
    )
    no_address_count = fields.Integer(
        string="No Email Address / Phone Number", compute="_compute_estimate"
    )
    blacklist_count = fields.Integer(string="Blacklisted", compute="_compute_estimate")
    cap_count = fields.Integer(
        string="Frequency Cap Reached", compute="_compute_estimate"
    )

    @api.depends("campaign_id")
    def _compute_estimate(self):
        for wizard in self:
            estimate = wizard.campaign_id._launch_estimate()
            skipped = estimate["skipped"]
            wizard.update(
                {
                    "audience_count": estimate["audience"],
                    "reach_count": estimate["reach"],
                    "control_count": estimate["control"],
                    "no_consent_count": skipped.get("no_consent", 0),
                    "no_address_count": skipped.get("no_address", 0),
                    "blacklist_count": skipped.get("blacklist", 0),
                    "cap_count": skipped.get("cap", 0),
                }
            )

    def action_confirm(self):
        self.ensure_one()
        return self.campaign_id.action_launch()
