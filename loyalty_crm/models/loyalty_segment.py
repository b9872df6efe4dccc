"""Saved member segments: a domain on res.partner built from the questionnaire,
tier, balance, RFM scores, preferred categories, activity and campaign
participation. A segment is the audience of campaigns and of mass mailings."""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval

SCORES = [(str(n), str(n)) for n in range(1, 6)]


def _partner_selection(field_name):
    def selection(self):
        # the labels in the user's language (a callable selection is not
        # translated by the ORM, the contact's field is)
        field = self.env["res.partner"]._fields[field_name]
        return field._description_selection(self.env)

    return selection


class LoyaltySegment(models.Model):
    _name = "loyalty.segment"
    _description = "Member Segment"
    _order = "name, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    description = fields.Text()
    # questionnaire
    age_min = fields.Integer(string="Age From")
    age_max = fields.Integer(string="Age To")
    gender = fields.Selection(_partner_selection("loyalty_gender"))
    marital_status = fields.Selection(_partner_selection("loyalty_marital_status"))
    city = fields.Char()
    home_store_ids = fields.Many2many("pos.config", string="Home Stores")
    channel_ids = fields.Many2many(
        "loyalty.notification.channel",
        string="Preferred Channels",
        help="Members who chose any of these channels.",
    )
    # membership
    tier_ids = fields.Many2many("loyalty.tier", string="Tiers")
    balance_min = fields.Float(string="Balance From", digits=(16, 2))
    balance_max = fields.Float(string="Balance To", digits=(16, 2))
    # behaviour
    rfm_recency_min = fields.Selection(SCORES, string="Recency Score at Least")
    rfm_frequency_min = fields.Selection(SCORES, string="Frequency Score at Least")
    rfm_monetary_min = fields.Selection(SCORES, string="Monetary Score at Least")
    category_ids = fields.Many2many(
        "product.category",
        string="Preferred Categories",
        help="Members whose preferred categories (from their purchases) "
        "include any of these.",
    )
    bought_within_days = fields.Integer(
        string="Bought in the Last (Days)",
        help="Members whose last purchase is at most this many days old.",
    )
    inactive_days = fields.Integer(
        string="No Purchase for (Days)",
        help="Members whose last purchase is at least this many days old "
        "(members who never bought are included).",
    )
    purchase_period = fields.Selection(
        [("30", "30 days"), ("90", "90 days"), ("365", "365 days")],
        string="Purchases over",
        default="90",
    )
    purchase_count_min = fields.Integer(string="Purchases at Least")
    campaign_ids = fields.Many2many(
        "loyalty.campaign",
        string="Campaigns",
        help="Members who received (or did not receive) a message of these campaigns.",
    )
    campaign_participation = fields.Selection(
        [("received", "Received"), ("not_received", "Did not receive")],
        default="received",
        string="Participation",
    )
    extra_domain = fields.Char(
        string="More Conditions",
        default="[]",
        help="Any further condition on members, as an Odoo domain.",
    )
    domain = fields.Char(
        compute="_compute_domain",
        store=True,
        help="The segment as a domain on contacts (members only).",
    )
    member_count = fields.Integer(
        string="Members", compute="_compute_member_count", compute_sudo=False
    )

    @api.constrains("age_min", "age_max", "balance_min", "balance_max")
    def _check_ranges(self):
        for segment in self:
            if segment.age_max and segment.age_min > segment.age_max:
                raise ValidationError(
                    _("The age range of %(name)s is empty.", name=segment.name)
                )
            if segment.balance_max and segment.balance_min > segment.balance_max:
                raise ValidationError(
                    _("The balance range of %(name)s is empty.", name=segment.name)
                )

    @api.constrains("extra_domain")
    def _check_extra_domain(self):
        for segment in self:
            try:
                self.env["res.partner"].search_count(
                    segment._parse_extra_domain(), limit=1
                )
            except Exception as exc:
                raise ValidationError(
                    _(
                        "The extra conditions of %(name)s are not a valid domain: "
                        "%(error)s",
                        name=segment.name,
                        error=exc,
                    )
                ) from exc

    def _parse_extra_domain(self):
        self.ensure_one()
        value = safe_eval(self.extra_domain or "[]")
        if not isinstance(value, list | tuple):
            raise ValidationError(_("A domain is a list of conditions."))
        return list(value)

    @api.depends(
        "age_min",
        "age_max",
        "gender",
        "marital_status",
        "city",
        "home_store_ids",
        "channel_ids",
        "tier_ids",
        "balance_min",
        "balance_max",
        "rfm_recency_min",
        "rfm_frequency_min",
        "rfm_monetary_min",
        "category_ids",
        "bought_within_days",
        "inactive_days",
        "purchase_period",
        "purchase_count_min",
        "campaign_ids",
        "campaign_participation",
        "extra_domain",
    )
    def _compute_domain(self):
        for segment in self:
            segment.domain = repr(segment._build_domain())

    def _build_domain(self):
        self.ensure_one()
        domain = [("loyalty_is_member", "=", True)]
        domain += self._questionnaire_domain() + self._behaviour_domain()
        try:
            extra = self._parse_extra_domain()
        except Exception:  # noqa: BLE001 (an invalid one is refused on save)
            extra = []
        return expression.AND([domain, extra]) if extra else domain

    def _questionnaire_domain(self):
        domain = []
        if self.age_min:
            domain.append(("loyalty_age", ">=", self.age_min))
        if self.age_max:
            domain.append(("loyalty_age", "<=", self.age_max))
        for name, field in (
            ("gender", "loyalty_gender"),
            ("marital_status", "loyalty_marital_status"),
        ):
            if self[name]:
                domain.append((field, "=", self[name]))
        if self.city:
            domain.append(("city", "ilike", self.city))
        for name, field in (
            ("home_store_ids", "loyalty_home_store_id"),
            ("channel_ids", "loyalty_channel_ids"),
            ("tier_ids", "loyalty_tier_id"),
            ("category_ids", "loyalty_preferred_categ_ids"),
        ):
            if self[name]:
                domain.append((field, "in", self[name]._origin.ids))
        return domain

    def _behaviour_domain(self):
        domain = []
        if self.balance_min:
            domain.append(("loyalty_card_id.points", ">=", self.balance_min))
        if self.balance_max:
            domain.append(("loyalty_card_id.points", "<=", self.balance_max))
        for name, field in (
            ("rfm_recency_min", "loyalty_rfm_recency"),
            ("rfm_frequency_min", "loyalty_rfm_frequency"),
            ("rfm_monetary_min", "loyalty_rfm_monetary"),
        ):
            if self[name]:
                domain.append((field, ">=", int(self[name])))
        # one condition each on the purchase statistics (kept apart from the
        # partners): an OR of two of them would not scale (see
        # res.partner._loyalty_stats_domain)
        if self.bought_within_days:
            # members who never bought have no last purchase: not within N days
            domain.append(
                ("loyalty_days_since_purchase", "<=", self.bought_within_days)
            )
        if self.inactive_days:
            # members who never bought included
            domain.append(("loyalty_days_without_purchase", ">=", self.inactive_days))
        if self.purchase_count_min:
            period = self.purchase_period or "90"
            domain.append((f"loyalty_orders_{period}d", ">=", self.purchase_count_min))
        if self.campaign_ids:
            received = [
                ("campaign_id", "in", self.campaign_ids._origin.ids),
                ("state", "=", "sent"),
            ]
            operator = (
                "not any" if self.campaign_participation == "not_received" else "any"
            )
            domain.append(("loyalty_campaign_occurrence_ids", operator, received))
        return domain

    def _get_partner_domain(self):
        self.ensure_one()
        return self._build_domain()

    @api.depends("domain")
    @api.depends("domain")
    def _compute_member_count(self):
        # also while the marketer edits the conditions, before saving
        Partner = self.env["res.partner"]
        for segment in self:
            segment.member_count = Partner.search_count(segment._build_domain())

    def action_preview(self):
        """The segment's members, as a list."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Members of %(segment)s", segment=self.name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "domain": self._build_domain(),
            "context": {"create": False},
        }

    def action_refresh_count(self):
        """Recount (the form shows the count on load; this button recounts)."""
        return True

    def action_create_mailing(self):
        """A mass mailing (Email Marketing) whose audience is the segment."""
        self.ensure_one()
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": self.name,
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                "mailing_domain": repr(self._build_domain()),
                "loyalty_segment_id": self.id,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "mailing.mailing",
            "res_id": mailing.id,
            "view_mode": "form",
        }

    def action_create_campaign(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "loyalty.campaign",
            "view_mode": "form",
            "context": {"default_segment_id": self.id, "default_name": self.name},
        }
