"""The member's own loyalty page in Odoo's customer portal ("My loyalty").

Every read goes through ``sudo()`` filtered explicitly on the logged-in user's
own partner: a portal user sees nothing of anyone else.
"""

import math

from odoo import _, fields, http
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools.misc import formatLang

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..models.loyalty_card import USABLE_STATES

# what a member may change about themselves from the portal
EDITABLE_SELECTIONS = (
    "loyalty_gender",
    "loyalty_marital_status",
    "loyalty_employment",
    "loyalty_children",
)
HISTORY_STEP = 20


class LoyaltyCustomerPortal(CustomerPortal):
    def _loyalty_member(self):
        """The logged-in user's partner (sudo) and their own bonus cards."""
        partner = request.env.user.partner_id.sudo()
        cards = (
            request.env["loyalty.card"]
            .sudo()
            .search(
                [("partner_id", "=", partner.id), ("is_bonus_card", "=", True)],
                order="id desc",
            )
        )
        return partner, cards

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if values.get("cards_per_programs"):
            # one balance on the portal home: ours ("My loyalty"), never the
            # bonus program again in Odoo's own loyalty cards block
            values["cards_per_programs"] = {
                program: cards
                for program, cards in values["cards_per_programs"].items()
                if not program.is_bonus_program
            }
        if "loyalty_points" in counters:
            partner, _cards = self._loyalty_member()
            values["loyalty_points"] = partner.loyalty_points or 0
        return values

    def _loyalty_tier_progress(self, partner, card):
        program = card.program_id
        spend = request.env["res.partner"].sudo()._loyalty_tier_spend(partner)
        spent = spend.get(partner.id, 0.0)
        following = program.tier_ids.sorted("min_spend").filtered(
            lambda t: t.min_spend > spent
        )[:1]
        progress = (
            min(100, round(100 * spent / following.min_spend))
            if following and following.min_spend
            else 100
        )
        return {
            "spent": spent,
            "next_tier": following,
            "missing": following and following.min_spend - spent,
            "progress": progress,
        }

    def _loyalty_values(self, card, page, url):
        partner, cards = self._loyalty_member()
        Ledger = request.env["loyalty.ledger"].sudo()
        domain = (
            [("card_id", "in", cards.ids)]
            if card is None
            else [("card_id", "=", card.id)]
        )
        domain.append(("partner_id", "=", partner.id))
        total = Ledger.search_count(domain)
        pager = portal_pager(url=url, total=total, page=page, step=HISTORY_STEP)
        entries = Ledger.search(
            domain,
            limit=HISTORY_STEP,
            offset=pager["offset"],
            order="date desc, id desc",
        )
        current = partner.loyalty_card_id
        values = self._prepare_portal_layout_values()
        expiring = []
        if current:
            lots = Ledger._open_lots(current)
            by_date = {}
            for _lot, _card, points, expiry in lots:
                if expiry:
                    by_date[expiry] = by_date.get(expiry, 0.0) + points
            expiring = sorted(by_date.items())
        values.update(
            {
                "page_name": "loyalty",
                "member": partner,
                "card": current,
                "shown_card": card or current,
                "cards": cards,
                "entries": entries,
                "pager": pager,
                "expiring": expiring,
                "tier": current and self._loyalty_tier_progress(partner, current),
                "program": current.program_id,
                "channels": request.env["loyalty.notification.channel"]
                .sudo()
                .search([]),
                "partner_fields": request.env["res.partner"]._fields,
                "usable": current.loyalty_state in USABLE_STATES,
                "error": request.params.get("error"),
                "saved": request.params.get("saved"),
                "format_points": self._loyalty_format_points,
                "format_number": self._loyalty_format_number,
            }
        )
        return values

    @staticmethod
    def _loyalty_format_number(value):
        """1.5 -> "1,5", 30.0 -> "30" in the member's language."""
        text = formatLang(request.env, value or 0.0, digits=2)
        lang = request.env["res.lang"]._get_data(code=request.env.lang or "en_US")
        point = lang.decimal_point or "."
        if point in text:
            text = text.rstrip("0").rstrip(point)
        return text

    @staticmethod
    def _loyalty_format_points(value, signed=False):
        """Whole points in the member's language ("4 372"; the fraction cut, as
        at the till), with their sign when ``signed``."""
        value = value or 0.0
        whole = int(math.copysign(math.floor(abs(value) + 1e-6), value))
        text = formatLang(request.env, abs(whole), digits=0)
        if signed:
            return ("+" if whole >= 0 else "\u2212") + text
        return text if whole >= 0 else "\u2212" + text

    # the pages only read: served by the replica when one is configured
    @http.route(
        ["/my/loyalty", "/my/loyalty/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def portal_my_loyalty(self, page=1, **_kw):
        values = self._loyalty_values(None, page, "/my/loyalty")
        return request.render("loyalty_crm.portal_my_loyalty", values)

    @http.route(
        [
            "/my/loyalty/card/<int:card_id>",
            "/my/loyalty/card/<int:card_id>/page/<int:page>",
        ],
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def portal_my_loyalty_card(self, card_id, page=1, **_kw):
        _partner, cards = self._loyalty_member()
        card = cards.filtered(lambda c: c.id == card_id)
        if not card:
            raise request.not_found()
        values = self._loyalty_values(card, page, f"/my/loyalty/card/{card.id}")
        return request.render("loyalty_crm.portal_my_loyalty", values)

    @http.route(
        "/my/loyalty/profile", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_my_loyalty_profile(self, **post):
        partner, _cards = self._loyalty_member()
        if not partner.loyalty_is_member:
            raise request.not_found()
        vals = {}
        for name in EDITABLE_SELECTIONS:
            if name in post:
                allowed = dict(partner._fields[name].selection)
                value = post[name] or False
                if value and value not in allowed:
                    return request.redirect("/my/loyalty?error=1")
                vals[name] = value
        if "loyalty_birthdate" in post:
            try:
                vals["loyalty_birthdate"] = (
                    fields.Date.to_date(post["loyalty_birthdate"]) or False
                )
            except ValueError:
                return request.redirect("/my/loyalty?error=1")
        if "loyalty_occupation" in post:
            vals["loyalty_occupation"] = (post["loyalty_occupation"] or "")[:128]
        if "channels_submitted" in post:
            channels = request.env["loyalty.notification.channel"].sudo().search([])
            chosen = {
                c.id for c in channels if post.get(f"channel_{c.id}") in ("on", "1")
            }
            vals["loyalty_channel_ids"] = [(6, 0, sorted(chosen))]
        try:
            with request.env.cr.savepoint():
                if vals:
                    partner.write(vals)
                consent = post.get("marketing_consent") in ("on", "1")
                if "consent_submitted" in post and (
                    consent != partner.loyalty_marketing_consent
                ):
                    request.env["loyalty.consent"]._record(
                        partner,
                        consent,
                        "portal",
                        note=_("Changed by the member in the portal"),
                    )
        except UserError:
            return request.redirect("/my/loyalty?error=1")
        return request.redirect("/my/loyalty?saved=1")
