from odoo import api, fields, models


class UtmSource(models.Model):
    """The answers to "How did they hear about us?". Odoo's sources also
    serve recruitment and CRM (Monster, Glassdoor, Craigslist...): only the
    sources a manager offers are asked at enrolment."""

    _inherit = "utm.source"

    loyalty_offered = fields.Boolean(
        string="Offered at Enrolment",
        help='Offered as an answer to "How did they hear about us?" when a '
        "member enrols at the till or in the back office.",
    )

    def _loyalty_offered_sources(self):
        return self.search([("loyalty_offered", "=", True)], order="name")

    @api.model
    def _loyalty_offer_default_sources(self):
        """While no source is offered (a new database, or one upgraded from a
        version that asked every source), offer a retailer's usual answers:
        search engines, the newsletter and a friend's recommendation."""
        if self.search_count([("loyalty_offered", "=", True)], limit=1):
            return
        for xmlid in (
            "utm.utm_source_search_engine",
            "utm.utm_source_newsletter",
            "loyalty_crm.utm_source_referral",
        ):
            source = self.env.ref(xmlid, raise_if_not_found=False)
            if source:
                source.loyalty_offered = True
