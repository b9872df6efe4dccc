from odoo import models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    def _action_send_mail(self, auto_commit=False):
        """A loyalty campaign's batch is one transaction: its messages are marked
        sent, rewarded, queued here and linked to their traces, then committed
        together by the mass mailing; never half-way through (Odoo commits every
        ``mail.batch_size`` mails otherwise: a crash after such a commit would
        leave members marked sent whose mail was never queued)."""
        mailings = self.mass_mailing_id.filtered("loyalty_campaign_id")
        if not mailings:
            return super()._action_send_mail(auto_commit=auto_commit)
        result = super()._action_send_mail(auto_commit=False)
        for mailing in mailings:
            mailing.loyalty_campaign_id._loyalty_link_traces(mailing)
        return result
