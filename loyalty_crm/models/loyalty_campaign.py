"""Campaigns: email or SMS messages to a segment, launched once or by a trigger.

The engine is set-based. A campaign run inserts its due (member, occurrence)
pairs into ``loyalty.campaign.occurrence`` with ``INSERT ... ON CONFLICT DO
NOTHING`` on a unique (campaign, member, occurrence key): a second run, or a
retried transaction, finds nothing new. The new rows are then classified in a
fixed number of statements (control group, consent, blacklists, quiet hours,
frequency cap) and the remaining members receive the message through the
campaign's ``mailing.mailing``: Odoo's mass mailing renders it, records
``mailing.trace`` rows and queues ``mail.mail`` / ``sms.sms``, which Odoo's
queue crons send after the transaction is committed.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .loyalty_card import USABLE_STATES

_logger = logging.getLogger(__name__)

TRIGGERS = [
    ("welcome", "Welcome (enrolment)"),
    ("birthday", "Birthday (N days before)"),
    ("expiring", "Points expiring in N days"),
    ("tier_up", "Tier upgrade"),
    ("tier_down", "Tier downgrade"),
    ("winback", "No purchase for N days (win-back)"),
    ("after_purchase", "N days after a purchase"),
    ("card_replaced", "Card replaced"),
    ("balance", "Balance reached"),
]
SKIP_REASONS = [
    ("not_member", "No longer a member"),
    ("no_consent", "No marketing consent"),
    ("no_address", "No email address / phone number"),
    ("blacklist", "Blacklisted"),
    ("cap", "Frequency cap reached"),
]


class LoyaltyCampaign(models.Model):
    _name = "loyalty.campaign"
    _description = "Loyalty Campaign"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("running", "Running"),
            ("done", "Sent"),
            ("stopped", "Stopped"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
    )
    channel = fields.Selection(
        [("email", "Email"), ("sms", "SMS")], required=True, default="email"
    )
    launch_type = fields.Selection(
        [("oneoff", "One-off"), ("trigger", "Trigger")],
        string="Launch",
        required=True,
        default="oneoff",
    )
    trigger = fields.Selection(TRIGGERS)
    trigger_days = fields.Integer(
        string="Days (N)",
        default=3,
        help="Birthday: days before; expiring points: days ahead; win-back: days "
        "without a purchase; after a purchase: days after it.",
    )
    trigger_amount = fields.Float(
        string="Balance (X)", digits=(16, 2), help="Balance that triggers the message."
    )
    trigger_since = fields.Datetime(
        readonly=True,
        copy=False,
        help="Events (enrolments, tier changes, card replacements, purchases) "
        "from this moment on trigger the campaign.",
    )
    schedule_date = fields.Datetime(
        string="Send On", help="Leave empty to send at once on launch."
    )
    segment_id = fields.Many2one(
        "loyalty.segment",
        string="Audience",
        check_company=True,
        help="Members the campaign may reach (all members when empty).",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email Template",
        domain=[("model", "=", "res.partner")],
    )
    sms_template_id = fields.Many2one(
        "sms.template", string="SMS Template", domain=[("model", "=", "res.partner")]
    )
    reward_type = fields.Selection(
        [("none", "No reward"), ("points", "Bonus points"), ("coupon", "Coupon")],
        string="Reward",
        required=True,
        default="none",
    )
    reward_points = fields.Float(string="Bonus Points", digits=(16, 2))
    coupon_program_id = fields.Many2one(
        "loyalty.program",
        string="Coupon Program",
        check_company=True,
        domain=[("program_type", "=", "coupons")],
    )
    control_percent = fields.Float(
        string="Control Group (%)",
        default=10.0,
        help="Share of due members held out at random: they receive nothing and "
        "show what members buy without the message.",
    )
    conversion_days = fields.Integer(
        string="Conversion Window (Days)",
        default=30,
        help="A member converts when they buy within this many days after the message.",
    )
    utm_campaign_id = fields.Many2one(
        "utm.campaign", string="UTM Campaign", readonly=True, copy=False
    )
    mailing_ids = fields.One2many(
        "mailing.mailing", "loyalty_campaign_id", string="Mailings", readonly=True
    )
    occurrence_ids = fields.One2many(
        "loyalty.campaign.occurrence", "campaign_id", string="Messages", readonly=True
    )
    # results
    occurrence_count = fields.Integer(string="Recipients", compute="_compute_results")
    sent_count = fields.Integer(string="Sent", compute="_compute_results")
    control_count = fields.Integer(string="Control Group", compute="_compute_results")
    skipped_count = fields.Integer(string="Skipped", compute="_compute_results")
    postponed_count = fields.Integer(string="Postponed", compute="_compute_results")
    delivered_count = fields.Integer(string="Delivered", compute="_compute_results")
    bounced_count = fields.Integer(string="Bounced", compute="_compute_results")
    opened_count = fields.Integer(string="Opened", compute="_compute_results")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_results")
    converted_count = fields.Integer(string="Converted", compute="_compute_results")
    converted_revenue = fields.Float(
        string="Revenue", compute="_compute_results", digits=(16, 2)
    )
    control_converted_count = fields.Integer(
        string="Control Converted", compute="_compute_results"
    )
    control_revenue = fields.Float(compute="_compute_results", digits=(16, 2))
    conversion_rate = fields.Float(
        string="Conversion (%)", compute="_compute_results", digits=(16, 1)
    )
    control_conversion_rate = fields.Float(
        string="Control Conversion (%)", compute="_compute_results", digits=(16, 1)
    )
    conversion_uplift = fields.Float(
        string="Uplift",
        compute="_compute_conversion_uplift",
        digits=(16, 1),
        help="Conversion of the members who received the message minus the "
        "conversion of the control group, in percentage points.",
    )

    _sql_constraints = [
        (
            "control_percent_range",
            "CHECK (control_percent >= 0 AND control_percent <= 100)",
            "The control group is a percentage between 0 and 100.",
        ),
    ]

    # ------------------------------------------------------------ computes
    def _compute_results(self):
        stats = {
            c.id: dict.fromkeys(("occ", "sent", "control", "skipped", "postponed"), 0)
            for c in self
        }
        traces = {}
        conversion = {}
        if self.ids:
            self.env.flush_all()
            ids = tuple(self.ids)
            for campaign_id, state, count in self.env.execute_query(
                SQL(
                    "SELECT campaign_id, state, COUNT(*) "
                    "FROM loyalty_campaign_occurrence WHERE campaign_id IN %s "
                    "GROUP BY campaign_id, state",
                    ids,
                )
            ):
                row = stats[campaign_id]
                row["occ"] += count
                if state in row:
                    row[state] += count
            for row in self.env.execute_query(
                SQL(
                    """
                    SELECT m.loyalty_campaign_id,
                           COUNT(*) FILTER (WHERE t.trace_status IN
                                            ('sent', 'open', 'reply')),
                           COUNT(*) FILTER (WHERE t.trace_status = 'bounce'),
                           COUNT(*) FILTER (WHERE t.open_datetime IS NOT NULL
                                            OR t.trace_status IN ('open', 'reply')),
                           COUNT(*) FILTER (WHERE t.links_click_datetime IS NOT NULL)
                      FROM mailing_trace t
                      JOIN mailing_mailing m ON m.id = t.mass_mailing_id
                     WHERE m.loyalty_campaign_id IN %s
                  GROUP BY m.loyalty_campaign_id
                    """,
                    ids,
                )
            ):
                traces[row[0]] = row[1:]
            for campaign_id, state, members, revenue in self.env.execute_query(
                SQL(
                    """
                    SELECT o.campaign_id, o.state,
                           COUNT(DISTINCT o.partner_id) FILTER (WHERE x.n > 0),
                           COALESCE(SUM(x.revenue), 0)
                      FROM loyalty_campaign_occurrence o
                      JOIN loyalty_campaign c ON c.id = o.campaign_id
                CROSS JOIN LATERAL (
                           SELECT COUNT(*) AS n, SUM(pu.amount) AS revenue
                             FROM loyalty_purchase pu
                            WHERE pu.partner_id = o.partner_id
                              AND pu.date >= o.date
                              AND pu.date < o.date
                                  + make_interval(days => c.conversion_days)
                           ) x
                     WHERE o.campaign_id IN %s AND o.state IN ('sent', 'control')
                  GROUP BY o.campaign_id, o.state
                    """,
                    ids,
                )
            ):
                conversion[(campaign_id, state)] = (members, float(revenue))
        for campaign in self:
            row = stats.get(campaign.id) or dict.fromkeys(
                ("occ", "sent", "control", "skipped", "postponed"), 0
            )
            delivered, bounced, opened, clicked = traces.get(campaign.id, (0, 0, 0, 0))
            conv, revenue = conversion.get((campaign.id, "sent"), (0, 0.0))
            ctrl, ctrl_revenue = conversion.get((campaign.id, "control"), (0, 0.0))
            campaign.update(
                {
                    "occurrence_count": row["occ"],
                    "sent_count": row["sent"],
                    "control_count": row["control"],
                    "skipped_count": row["skipped"],
                    "postponed_count": row["postponed"],
                    "delivered_count": delivered,
                    "bounced_count": bounced,
                    "opened_count": opened,
                    "clicked_count": clicked,
                    "converted_count": conv,
                    "converted_revenue": revenue,
                    "control_converted_count": ctrl,
                    "control_revenue": ctrl_revenue,
                    "conversion_rate": 100.0 * conv / row["sent"]
                    if row["sent"]
                    else 0.0,
                    "control_conversion_rate": (
                        100.0 * ctrl / row["control"] if row["control"] else 0.0
                    ),
                }
            )

    # ------------------------------------------------------------ constraints
    @api.constrains(
        "launch_type",
        "trigger",
        "channel",
        "mail_template_id",
        "sms_template_id",
        "reward_type",
        "reward_points",
        "coupon_program_id",
    )
    def _check_setup(self):
        for campaign in self:
            if campaign.launch_type == "trigger" and not campaign.trigger:
                raise ValidationError(
                    _("Choose the trigger of campaign %(name)s.", name=campaign.name)
                )
            if campaign.reward_type == "points" and campaign.reward_points <= 0:
                raise ValidationError(
                    _(
                        "The bonus points of %(name)s must be positive.",
                        name=campaign.name,
                    )
                )
            if campaign.reward_type == "coupon" and not campaign.coupon_program_id:
                raise ValidationError(
                    _("Choose the coupon program of %(name)s.", name=campaign.name)
                )

    @api.onchange("channel", "trigger", "launch_type")
    def _onchange_default_template(self):
        key = (self.launch_type == "trigger" and self.trigger) or "oneoff"
        if self.channel == "email":
            self.mail_template_id = self.env.ref(
                f"loyalty_crm.mail_template_campaign_{key}", raise_if_not_found=False
            )
        else:
            self.sms_template_id = self.env.ref(
                f"loyalty_crm.sms_template_campaign_{key}", raise_if_not_found=False
            )

    # ------------------------------------------------------------ actions
    def _check_template(self):
        for campaign in self:
            template = (
                campaign.mail_template_id
                if campaign.channel == "email"
                else campaign.sms_template_id
            )
            if not template:
                raise UserError(
                    _("Pick a template for campaign %(name)s.", name=campaign.name)
                )

    def action_launch(self):
        """One-off: send now (or on the schedule date); trigger: start listening."""
        self._check_template()
        now = fields.Datetime.now()
        for campaign in self:
            if campaign.state not in ("draft", "stopped"):
                raise UserError(
                    _("Campaign %(name)s is already launched.", name=campaign.name)
                )
            campaign._ensure_utm_campaign()
            if campaign.launch_type == "trigger":
                campaign.write(
                    {"state": "running", "trigger_since": campaign.trigger_since or now}
                )
            else:
                # sent by the campaign cron (after this transaction), never
                # inside the marketer's request
                campaign.write(
                    {
                        "state": "scheduled",
                        "schedule_date": campaign.schedule_date or now,
                    }
                )
        cron = self.env.ref("loyalty_crm.ir_cron_loyalty_campaigns", False)
        if cron and self.filtered(lambda c: c.schedule_date and c.schedule_date <= now):
            cron.sudo()._trigger()
        return True

    def action_launch_confirm(self):
        """The Launch button: first say whom the campaign will reach (and why
        not the rest), then launch on confirmation."""
        self.ensure_one()
        self._check_template()
        if self.state not in ("draft", "stopped"):
            raise UserError(_("Campaign %(name)s is already launched.", name=self.name))
        wizard = self.env["loyalty.campaign.launch.wizard"].create(
            {"campaign_id": self.id}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Launch %(name)s?", name=self.name),
            "res_model": "loyalty.campaign.launch.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def _launch_estimate(self):
        """Whom a launch now would reach: ``{"audience": members of the
        segment, "reach": who would get the message, "control": held out,
        "skipped": {reason: count}}``. The same rules as the sending engine
        (``_skip_reason_sql``, the frequency cap), read in one query."""
        self.ensure_one()
        self.env.flush_all()
        company = self.company_id
        capped = SQL("FALSE")
        if company.loyalty_campaign_cap > 0:
            capped = SQL(
                """(SELECT COUNT(*) FROM loyalty_campaign_occurrence s
                     WHERE s.partner_id = p.id AND s.state = 'sent'
                       AND s.date >= %s::timestamp - make_interval(days => %s))
                   >= %s""",
                fields.Datetime.now(),
                company.loyalty_campaign_cap_days,
                company.loyalty_campaign_cap,
            )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT COALESCE(t.reason, CASE WHEN t.capped THEN 'cap' END),
                       COUNT(*)
                  FROM (SELECT %(reason)s AS reason, %(capped)s AS capped
                          FROM res_partner p
                         WHERE p.active AND p.loyalty_is_member %(segment)s) t
              GROUP BY 1
                """,
                reason=self._skip_reason_sql(),
                capped=capped,
                segment=self._segment_filter(),
            )
        )
        skipped = {reason: count for reason, count in rows if reason}
        can = sum(count for reason, count in rows if not reason)
        control = round(can * (self.control_percent or 0.0) / 100.0)
        return {
            "audience": can + sum(skipped.values()),
            "reach": can - control,
            "control": control,
            "skipped": skipped,
        }

    def action_stop(self):
        self.filtered(lambda c: c.state in ("scheduled", "running")).state = "stopped"
        return True

    @api.depends("conversion_rate", "control_conversion_rate")
    def _compute_conversion_uplift(self):
        for campaign in self:
            campaign.conversion_uplift = (
                campaign.conversion_rate - campaign.control_conversion_rate
            )

    def action_view_results_chart(self):
        """The campaign's messages as a bar chart: sent, control, skipped (why)."""
        action = self.action_view_occurrences()
        action["view_mode"] = "graph,list"
        action["views"] = [(False, "graph"), (False, "list")]
        action["context"] = {}
        return action

    def action_view_occurrences(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "loyalty_crm.loyalty_campaign_occurrence_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    def action_view_traces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mass_mailing.mailing_trace_action"
        )
        action["domain"] = [("mass_mailing_id", "in", self.mailing_ids.ids)]
        action["context"] = {}
        return action

    def action_view_mailings(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Mailings"),
            "res_model": "mailing.mailing",
            "view_mode": "list,form",
            "domain": [("loyalty_campaign_id", "=", self.id)],
            "context": {"create": False},
        }

    # ------------------------------------------------------------ engine
    def _ensure_utm_campaign(self):
        for campaign in self.filtered(lambda c: not c.utm_campaign_id):
            campaign.utm_campaign_id = (
                self.env["utm.campaign"].sudo().create({"title": campaign.name})
            )

    def _loyalty_mailing(self, lang):
        """The campaign's mailing in ``lang`` (created on first use)."""
        self.ensure_one()
        Mailing = self.env["mailing.mailing"].sudo()
        mailing = self.mailing_ids.filtered(lambda m: m.loyalty_lang == lang)[:1]
        if mailing:
            return mailing
        vals = {
            "loyalty_campaign_id": self.id,
            "loyalty_lang": lang,
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr(
                self.segment_id._build_domain()
                if self.segment_id
                else [("loyalty_is_member", "=", True)]
            ),
            "campaign_id": self.utm_campaign_id.id,
            "medium_id": self.env.ref(
                "mass_mailing_sms.utm_medium_sms"
                if self.channel == "sms"
                else "utm.utm_medium_email"
            ).id,
            "source_id": self.env.ref("loyalty_crm.utm_source_loyalty_campaign").id,
            "keep_archives": True,
        }
        if self.channel == "sms":
            template = self.sms_template_id.with_context(lang=lang)
            vals.update(
                {
                    "mailing_type": "sms",
                    "subject": f"{self.name} ({lang})",
                    "body_plaintext": template.body,
                }
            )
        else:
            template = self.mail_template_id.with_context(lang=lang)
            vals.update(
                {
                    "mailing_type": "mail",
                    "subject": template.subject,
                    "body_arch": template.body_html,
                    "body_html": template.body_html,
                }
            )
            if template.email_from:
                vals["email_from"] = template.email_from
        mailing = Mailing.create(vals)
        self.invalidate_recordset(["mailing_ids"])
        return mailing

    def _segment_filter(self, alias="p"):
        self.ensure_one()
        if not self.segment_id:
            return SQL()
        query = self.env["res.partner"].sudo()._search(self.segment_id._build_domain())
        return SQL("AND %s IN (%s)", SQL.identifier(alias, "id"), query.subselect())

    def _company_card_filter(self, alias="c"):
        """SQL: the card ``alias`` belongs to the campaign's company (or to a
        program shared by every company)."""
        self.ensure_one()
        return SQL(
            "COALESCE(%s, %s) = %s",
            SQL.identifier(alias, "company_id"),
            self.company_id.id,
            self.company_id.id,
        )

    def _insert_occurrences(self, pairs):
        """Insert (member, occurrence key) pairs that are new; returns their ids.

        ``pairs`` is an SQL query yielding ``partner_id, occurrence_key``.
        """
        self.ensure_one()
        self.env.flush_all()
        now = fields.Datetime.now()
        rows = self.env.execute_query(
            SQL(
                """
                INSERT INTO loyalty_campaign_occurrence
                       (campaign_id, company_id, partner_id, occurrence_key, state,
                        is_control, date, create_uid, write_uid, create_date,
                        write_date)
                SELECT DISTINCT ON (t.partner_id, t.occurrence_key)
                       %(campaign)s, %(company)s, t.partner_id, t.occurrence_key,
                       'pending', random() * 100 < %(control)s, %(now)s, %(uid)s,
                       %(uid)s, %(now)s, %(now)s
                  FROM (%(pairs)s) t
                  JOIN res_partner p ON p.id = t.partner_id
                 WHERE p.active AND p.loyalty_is_member %(segment)s
                   AND EXISTS (SELECT 1 FROM loyalty_card mc
                                WHERE mc.partner_id = p.id AND mc.is_bonus_card
                                  AND mc.active AND mc.loyalty_state IN %(member)s
                                  AND %(company_card)s)
                ON CONFLICT (campaign_id, partner_id, occurrence_key) DO NOTHING
                RETURNING id
                """,
                campaign=self.id,
                company=self.company_id.id,
                control=self.control_percent,
                now=now,
                uid=self.env.uid,
                pairs=pairs,
                segment=self._segment_filter(),
                member=(*USABLE_STATES, "blocked"),
                company_card=self._company_card_filter("mc"),
            )
        )
        self._invalidate_occurrences()
        return [row[0] for row in rows]

    def _invalidate_occurrences(self):
        self.env["loyalty.campaign.occurrence"].invalidate_model()
        self.env["loyalty.campaign"].invalidate_model(["occurrence_ids"])
        self.env["res.partner"].invalidate_model(["loyalty_campaign_occurrence_ids"])

    def _run_oneoff(self):
        self.ensure_one()
        self.write({"state": "done", "trigger_since": fields.Datetime.now()})
        self._insert_occurrences(
            SQL(
                "SELECT p.id AS partner_id, 'oneoff' AS occurrence_key "
                "FROM res_partner p WHERE p.loyalty_is_member"
            )
        )
        self._process_due()

    def _trigger_pairs(self):
        """SQL of the (partner_id, occurrence_key) pairs the trigger makes due now."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        since = self.trigger_since or fields.Datetime.now()
        days = max(self.trigger_days, 0)
        trigger = self.trigger
        # events of the campaign's company only (its members' cards, tiers,
        # purchases); _insert_occurrences keeps its members only
        company_card = self._company_card_filter("c")
        if trigger == "welcome":
            return SQL(
                """
                SELECT c.partner_id, 'welcome' AS occurrence_key
                  FROM loyalty_card c
                 WHERE c.is_bonus_card AND c.partner_id IS NOT NULL
                   AND c.replaces_id IS NULL AND c.create_date >= %s AND %s
                """,
                since,
                company_card,
            )
        if trigger == "birthday":
            target = fields.Date.add(today, days=days)
            return SQL(
                """
                SELECT p.id AS partner_id, 'birthday/' || %s AS occurrence_key
                  FROM res_partner p
                 WHERE p.loyalty_is_member AND p.loyalty_birthdate IS NOT NULL
                   AND EXTRACT(MONTH FROM p.loyalty_birthdate) = %s
                   AND EXTRACT(DAY FROM p.loyalty_birthdate) = %s
                """,
                str(target.year),
                target.month,
                target.day,
            )
        if trigger == "expiring":
            horizon = fields.Date.add(today, days=days + 1)
            lots = self.env["loyalty.ledger"]._open_lots(expired_before=horizon)
            first = {}
            for _lot, card_id, _points, expiry in lots:
                if expiry and expiry >= today:
                    first[card_id] = min(first.get(card_id, expiry), expiry)
            return SQL(
                """
                SELECT c.partner_id, 'expiring/' || u.expiry AS occurrence_key
                  FROM unnest(%s::int[], %s::text[]) AS u(card_id, expiry)
                  JOIN loyalty_card c ON c.id = u.card_id
                 WHERE c.partner_id IS NOT NULL AND %s
                """,
                list(first),
                [str(date) for date in first.values()],
                company_card,
            )
        if trigger in ("tier_up", "tier_down"):
            return SQL(
                """
                SELECT h.partner_id, 'tier/' || h.id AS occurrence_key
                  FROM loyalty_tier_history h
                  JOIN loyalty_tier t
                    ON t.id = COALESCE(h.new_tier_id, h.old_tier_id)
                 WHERE h.direction = %s AND h.date >= %s AND %s
                """,
                "up" if trigger == "tier_up" else "down",
                since,
                self._company_card_filter("t"),
            )
        if trigger == "winback":
            return SQL(
                """
                SELECT p.id AS partner_id,
                       'winback/' || st.last_purchase_date AS occurrence_key
                  FROM loyalty_member_stats st
                  JOIN res_partner p ON p.id = st.partner_id
                 WHERE p.loyalty_is_member
                   AND st.last_purchase_date <= %s
                """,
                fields.Date.subtract(today, days=days),
            )
        if trigger == "after_purchase":
            until = fields.Date.subtract(today, days=days)
            start = max(
                fields.Date.subtract(until, days=2),
                fields.Date.subtract(since.date(), days=days),
            )
            return SQL(
                """
                SELECT DISTINCT pu.partner_id,
                       'purchase/' || pu.date::date AS occurrence_key
                  FROM loyalty_purchase pu
                 WHERE pu.date >= %s AND pu.date < %s AND pu.partner_id IS NOT NULL
                   AND pu.company_id = %s
                """,
                start,
                fields.Date.add(until, days=1),
                self.company_id.id,
            )
        if trigger == "card_replaced":
            return SQL(
                """
                SELECT c.partner_id, 'card/' || c.id AS occurrence_key
                  FROM loyalty_card c
                 WHERE c.replaces_id IS NOT NULL AND c.create_date >= %s
                   AND c.partner_id IS NOT NULL AND c.is_bonus_card AND %s
                """,
                since,
                company_card,
            )
        if trigger == "balance":
            return SQL(
                """
                SELECT c.partner_id, 'balance/' || %s AS occurrence_key
                  FROM loyalty_card c
                 WHERE c.is_bonus_card AND c.partner_id IS NOT NULL
                   AND c.points >= %s AND c.loyalty_state IN %s AND %s
                """,
                str(self.trigger_amount),
                self.trigger_amount,
                USABLE_STATES,
                company_card,
            )
        raise UserError(_("Unknown trigger %(trigger)s.", trigger=trigger))

    @api.model
    def _cron_run_campaigns(self):
        """Every few minutes: scheduled launches, triggers, postponed messages.

        A second run (or a retry after a failure) sends nothing new: the unique
        (campaign, member, occurrence) key refuses a second row.
        """
        now = fields.Datetime.now()
        for campaign in self.search(
            [("state", "=", "scheduled"), ("schedule_date", "<=", now)]
        ):
            campaign._run_oneoff()
        for campaign in self.search(
            [("state", "=", "running"), ("launch_type", "=", "trigger")]
        ):
            campaign._insert_occurrences(campaign._trigger_pairs())
        self.env.flush_all()
        due = self.env.execute_query(
            SQL(
                """
                SELECT DISTINCT campaign_id FROM loyalty_campaign_occurrence
                 WHERE state = 'pending'
                    OR (state = 'postponed' AND scheduled_at <= %s)
                """,
                now,
            )
        )
        campaigns = self.browse([row[0] for row in due]).exists()
        # a stopped campaign sends nothing more, postponed messages included
        for campaign in campaigns.filtered(lambda c: c.state != "stopped").sorted("id"):
            campaign._process_due()
        return True

    def _skip_reason_sql(self):
        """SQL: why the member ``p`` (a res_partner row) may not receive the
        campaign's message at all (NULL: they may). One definition, read by the
        sending engine and by the estimate shown before a launch."""
        self.ensure_one()
        channel = self.channel
        address = (
            SQL("p.email_normalized IS NULL")
            if channel == "email"
            else SQL("p.phone_sanitized IS NULL")
        )
        blacklisted = (
            SQL(
                "EXISTS (SELECT 1 FROM mail_blacklist b WHERE b.active "
                "AND b.email = p.email_normalized)"
            )
            if channel == "email"
            else SQL(
                "EXISTS (SELECT 1 FROM phone_blacklist b WHERE b.active "
                "AND b.number = p.phone_sanitized)"
            )
        )
        return SQL(
            """
                 CASE
                 WHEN NOT p.active OR NOT p.loyalty_is_member
                      THEN 'not_member'
                 WHEN NOT COALESCE(p.loyalty_marketing_consent, FALSE)
                      OR EXISTS (
                SELECT 1
                  FROM loyalty_notification_channel_res_partner_rel r
                  JOIN loyalty_notification_channel ch
                    ON ch.id = r.loyalty_notification_channel_id
                 WHERE r.res_partner_id = p.id AND ch.code = 'none')
                      OR (SELECT lc.consent FROM loyalty_consent lc
                           WHERE lc.partner_id = p.id
                             AND lc.purpose = 'marketing'
                             AND lc.channel = %(channel)s
                        ORDER BY lc.date DESC, lc.id DESC LIMIT 1)
                         = 'opt_out'
                      THEN 'no_consent'
                 WHEN %(address)s THEN 'no_address'
                 WHEN %(blacklisted)s THEN 'blacklist'
                 END
            """,
            channel=channel,
            address=address,
            blacklisted=blacklisted,
        )

    def _process_due(self):
        """Classify the campaign's due occurrences and send to the rest."""
        self.ensure_one()
        self.env.flush_all()
        company = self.company_id
        now = fields.Datetime.now()
        due = SQL(
            "o.campaign_id = %s AND (o.state = 'pending' OR "
            "(o.state = 'postponed' AND o.scheduled_at <= %s))",
            self.id,
            now,
        )
        channel = self.channel
        reason = self._skip_reason_sql()
        # 1. who may not receive it at all, and why
        self.env.execute_query(
            SQL(
                """
                UPDATE loyalty_campaign_occurrence o
                   SET state = 'skipped', skip_reason = r.reason, date = %(now)s
                  FROM (
                    SELECT o.id,
                           %(reason)s AS reason
                      FROM loyalty_campaign_occurrence o
                      JOIN res_partner p ON p.id = o.partner_id
                     WHERE %(due)s
                  ) r
                 WHERE r.id = o.id AND r.reason IS NOT NULL
                """,
                now=now,
                reason=reason,
                due=due,
            )
        )
        # 2. the control group: receives nothing, recorded for the comparison
        self.env.execute_query(
            SQL(
                "UPDATE loyalty_campaign_occurrence o SET state = 'control', "
                "date = %s WHERE %s AND o.is_control",
                now,
                due,
            )
        )
        # 3. quiet hours (SMS): postponed to the morning, member's time zone
        if (
            channel == "sms"
            and company.loyalty_quiet_start != company.loyalty_quiet_end
        ):
            start, end = company.loyalty_quiet_start, company.loyalty_quiet_end
            local = SQL(
                "((%s::timestamp AT TIME ZONE 'UTC') AT TIME ZONE "
                "COALESCE(NULLIF(p.tz, ''), %s))",
                now,
                company.partner_id.tz or "Europe/Moscow",
            )
            hour = SQL("EXTRACT(HOUR FROM %s)", local)
            quiet = (
                SQL("(%s >= %s OR %s < %s)", hour, start, hour, end)
                if start > end
                else SQL("(%s >= %s AND %s < %s)", hour, start, hour, end)
            )
            self.env.execute_query(
                SQL(
                    """
                    UPDATE loyalty_campaign_occurrence o
                       SET state = 'postponed',
                           scheduled_at = ((date_trunc('day', %(local)s)
                               + make_interval(hours => %(end)s)
                               + CASE WHEN %(hour)s >= %(end)s
                                      THEN interval '1 day' ELSE interval '0' END)
                               AT TIME ZONE COALESCE(NULLIF(p.tz, ''), %(tz)s))
                               AT TIME ZONE 'UTC'
                      FROM res_partner p
                     WHERE p.id = o.partner_id AND %(due)s AND %(quiet)s
                    """,
                    local=local,
                    end=end,
                    hour=hour,
                    tz=company.partner_id.tz or "Europe/Moscow",
                    due=due,
                    quiet=quiet,
                )
            )
        # 4. frequency cap over all campaigns (messages already sent + this batch)
        if company.loyalty_campaign_cap > 0:
            self.env.execute_query(
                SQL(
                    """
                    UPDATE loyalty_campaign_occurrence o
                       SET state = 'skipped', skip_reason = 'cap', date = %(now)s
                      FROM (
                        SELECT o.id, ROW_NUMBER() OVER (
                                   PARTITION BY o.partner_id ORDER BY o.id)
                               + COALESCE(recent.n, 0) AS rank
                          FROM loyalty_campaign_occurrence o
                     LEFT JOIN (SELECT s.partner_id, COUNT(*) AS n
                                  FROM loyalty_campaign_occurrence s
                                 WHERE s.state = 'sent'
                                   AND s.date >= %(now)s::timestamp
                                                 - make_interval(days => %(days)s)
                              GROUP BY s.partner_id) recent
                            ON recent.partner_id = o.partner_id
                         WHERE %(due)s
                      ) r
                     WHERE r.id = o.id AND r.rank > %(cap)s
                    """,
                    now=now,
                    days=company.loyalty_campaign_cap_days,
                    due=due,
                    cap=company.loyalty_campaign_cap,
                )
            )
        # 5. the rest is sent, one language (one mailing) at a time. Each batch
        # is marked sent, rewarded, queued and linked to its traces in one
        # transaction: Odoo's mass mailing commits once it has queued a
        # mailing (outside tests), so nothing of a batch may be left for after
        # that commit, or a crash there would lose it for good (a crash before
        # it rolls the whole batch back: the next run sends it, once).
        Occurrence = self.env["loyalty.campaign.occurrence"]
        langs = self.env.execute_query(
            SQL(
                """
                SELECT DISTINCT COALESCE(p.lang, 'en_US')
                  FROM loyalty_campaign_occurrence o
                  JOIN res_partner p ON p.id = o.partner_id
                 WHERE %s
              ORDER BY 1
                """,
                due,
            )
        )
        sent = Occurrence
        for (lang,) in langs:
            rows = self.env.execute_query(
                SQL(
                    """
                    UPDATE loyalty_campaign_occurrence o
                       SET state = 'sent', date = %s, scheduled_at = NULL
                      FROM res_partner p
                     WHERE p.id = o.partner_id AND %s
                       AND COALESCE(p.lang, 'en_US') = %s
                 RETURNING o.id, o.partner_id
                    """,
                    now,
                    due,
                    lang,
                )
            )
            self._invalidate_occurrences()
            if not rows:
                continue
            batch = Occurrence.browse([row[0] for row in rows])
            self._grant_rewards(batch)
            mailing = self._loyalty_mailing(lang)
            # default_force_send=False: even a small batch goes through the
            # mail queue (sent by Odoo's mail cron after this transaction)
            mailing.with_context(lang=lang, default_force_send=False).action_send_mail(
                res_ids=[row[1] for row in rows]
            )
            # the traces of an email mailing are linked before its commit (see
            # mail.compose.message); an SMS mailing's here
            self._loyalty_link_traces(mailing)
            sent |= batch
        return sent

    def _loyalty_link_traces(self, mailing):
        """Link the campaign's sent messages that have no trace yet to the
        member's latest trace of ``mailing`` (a no-op the second time)."""
        self.ensure_one()
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                """
                UPDATE loyalty_campaign_occurrence o
                   SET trace_id = t.id, mailing_id = t.mass_mailing_id
                  FROM (SELECT DISTINCT ON (res_id) id, res_id, mass_mailing_id
                          FROM mailing_trace
                         WHERE mass_mailing_id = %s AND model = 'res.partner'
                      ORDER BY res_id, id DESC) t
                 WHERE t.res_id = o.partner_id AND o.campaign_id = %s
                   AND o.state = 'sent' AND o.trace_id IS NULL
                """,
                mailing.id,
                self.id,
            )
        )
        self._invalidate_occurrences()

    def _grant_rewards(self, occurrences):
        """The campaign's reward for each message sent (once per occurrence)."""
        self.ensure_one()
        if self.reward_type == "points":
            Ledger = self.env["loyalty.ledger"]
            # the member's card in this campaign's company: never another's
            cards = (
                self.env["loyalty.card"]
                .sudo()
                .search(
                    [
                        ("partner_id", "in", occurrences.partner_id.ids),
                        ("is_bonus_card", "=", True),
                        ("company_id", "in", [self.company_id.id, False]),
                        ("loyalty_state", "in", USABLE_STATES),
                    ]
                )
            )
            card_of = {card.partner_id: card for card in cards}
            for occurrence in occurrences:
                card = card_of.get(occurrence.partner_id)
                if card:
                    occurrence.ledger_id = Ledger._post_once(
                        card,
                        self.reward_points,
                        "bonus",
                        f"loyalty.campaign.occurrence/{occurrence.id}",
                        reason=_("Campaign %(name)s", name=self.name),
                        source=occurrence,
                    )
        elif self.reward_type == "coupon":
            coupons = (
                self.env["loyalty.card"]
                .sudo()
                .with_context(loyalty_no_mail=True)
                .create(
                    [
                        {
                            "program_id": self.coupon_program_id.id,
                            "partner_id": occurrence.partner_id.id,
                            "points": 1,
                        }
                        for occurrence in occurrences
                    ]
                )
            )
            for occurrence, coupon in zip(occurrences, coupons, strict=True):
                occurrence.coupon_id = coupon


class LoyaltyCampaignOccurrence(models.Model):
    """One (campaign, member, occurrence): what was sent, held out or skipped."""

    _name = "loyalty.campaign.occurrence"
    _description = "Campaign Message"
    _order = "id desc"

    campaign_id = fields.Many2one(
        "loyalty.campaign", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Member",
        required=True,
        ondelete="cascade",
        readonly=True,
        index=True,
    )
    occurrence_key = fields.Char(
        string="Occurrence",
        required=True,
        readonly=True,
        help="What this message is about (the birthday's year, the tier change, "
        "the purchase date...): one message per campaign, member and occurrence.",
    )
    occurrence_label = fields.Char(string="About", compute="_compute_occurrence_label")
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("postponed", "Postponed (quiet hours)"),
            ("sent", "Sent"),
            ("control", "Control group"),
            ("skipped", "Skipped"),
        ],
        required=True,
        default="pending",
        readonly=True,
        index=True,
    )
    skip_reason = fields.Selection(SKIP_REASONS, readonly=True)
    is_control = fields.Boolean(string="Control Group", readonly=True)
    date = fields.Datetime(readonly=True, default=fields.Datetime.now, index=True)
    scheduled_at = fields.Datetime(string="Postponed To", readonly=True)
    mailing_id = fields.Many2one("mailing.mailing", readonly=True, ondelete="set null")
    trace_id = fields.Many2one("mailing.trace", readonly=True, ondelete="set null")
    trace_status = fields.Selection(related="trace_id.trace_status", string="Delivery")
    ledger_id = fields.Many2one(
        "loyalty.ledger", string="Bonus Entry", readonly=True, ondelete="restrict"
    )
    coupon_id = fields.Many2one(
        "loyalty.card", string="Coupon", readonly=True, ondelete="set null"
    )

    _sql_constraints = [
        (
            "occurrence_unique",
            "UNIQUE(campaign_id, partner_id, occurrence_key)",
            "This member already has this campaign's message for this occurrence.",
        ),
    ]

    def _compute_occurrence_label(self):
        """What the message was about, for people: "Birthday 2026", "Points
        expiring on 12/13/2026", not the engine's key ("birthday/2026")."""
        labels = {
            "oneoff": _("One-off send"),
            "welcome": _("Welcome"),
            "birthday": _("Birthday %(value)s"),
            "expiring": _("Points expiring on %(value)s"),
            "tier": _("Tier change"),
            "winback": _("No purchase since %(value)s"),
            "purchase": _("Purchase of %(value)s"),
            "card": _("New card"),
            "balance": _("Balance reached %(value)s"),
        }
        lang = self.env["res.lang"]._get_data(code=self.env.lang or "en_US")
        for occurrence in self:
            key, _sep, value = (occurrence.occurrence_key or "").partition("/")
            label = labels.get(key)
            if not label:
                occurrence.occurrence_label = occurrence.occurrence_key
                continue
            try:
                date = fields.Date.to_date(value) if len(value) == 10 else None
            except ValueError:
                date = None
            if date:
                value = date.strftime(lang.date_format)
            elif key == "balance":
                value = value.removesuffix(".0")
            occurrence.occurrence_label = label % {"value": value}
