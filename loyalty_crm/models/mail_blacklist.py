from odoo import api, models


class MailBlacklist(models.Model):
    _inherit = "mail.blacklist"

    @api.model
    def _add(self, email, message=None):
        """A member's email blocklisted (the mailing's unsubscribe link, or by
        hand) is an opt-out of email in the member's consent log."""
        records = super()._add(email, message=message)
        self.env["res.partner"]._loyalty_channel_opt_out("email", emails=[email])
        return records
