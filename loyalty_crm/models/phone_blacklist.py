from odoo import api, models


class PhoneBlacklist(models.Model):
    _inherit = "phone.blacklist"

    @api.model
    def _add(self, numbers, message=None):
        """A member's number blocklisted (the SMS unsubscribe link, a STOP reply,
        or by hand) is an opt-out of SMS in the member's consent log."""
        records = super()._add(numbers, message=message)
        self.env["res.partner"]._loyalty_channel_opt_out("sms", phones=numbers)
        return records
