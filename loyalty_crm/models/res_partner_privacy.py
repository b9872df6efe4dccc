"""Personal data of members (Russian 152-FZ, GDPR): export, erasure, opt-out.

- Export: everything the addon holds about a member (questionnaire, consents
  with their log, cards, ledger, campaign messages, past requests) as one JSON
  file, from the partner form or by the member from the portal.
- Erasure: the personal data is replaced (name, phones, email, birth date,
  address, free text; chatter and tracked values deleted; the member's texts in
  the ledger, import files, API answers and message traces scrubbed); cards get
  an unguessable number and are blocked. Amounts stay: the ledger, orders and
  reports keep their totals. Every request is logged (``loyalty.privacy.request``).
- Opt-out from every message: a blocklisted email (the mailing's unsubscribe
  link) or number (the SMS unsubscribe link, a STOP reply) lands in the consent
  log with its channel.
"""

import datetime
import json
import re
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.http import request
from odoo.tools import SQL, email_normalize

from ..tools import normalize_phone

# What erasure clears on the member (and their addresses).
ERASED_FIELDS = (
    "phone",
    "mobile",
    "email",
    "street",
    "street2",
    "zip",
    "city",
    "state_id",
    "website",
    "function",
    "title",
    "comment",
    "ref",
    "vat",
    "image_1920",
    "loyalty_birthdate",
    "loyalty_gender",
    "loyalty_marital_status",
    "loyalty_employment",
    "loyalty_occupation",
    "loyalty_children",
    "loyalty_referral_code",
)
STOP_WORDS = {"stop", "стоп", "отписаться", "unsubscribe"}


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    loyalty_erased = fields.Boolean(
        string="Personal Data Erased", readonly=True, copy=False, index=True
    )

    # ------------------------------------------------------------ export
    def _loyalty_personal_data(self):
        """Everything the bonus program holds about the member, as plain data."""
        self.ensure_one()
        partner = self.sudo()

        def label(record, name):
            value = record[name]
            if isinstance(value, models.BaseModel):
                return ", ".join(value.mapped("display_name")) or None
            field = record._fields[name]
            if field.type == "selection" and value:
                return dict(field._description_selection(self.env)).get(value, value)
            if isinstance(value, datetime.date):
                return value.isoformat()
            return value if value is not False else None

        questionnaire = (
            "name",
            "phone",
            "mobile",
            "email",
            "street",
            "city",
            "zip",
            "country_id",
            "loyalty_birthdate",
            "loyalty_gender",
            "loyalty_marital_status",
            "loyalty_employment",
            "loyalty_occupation",
            "loyalty_children",
            "loyalty_channel_ids",
            "loyalty_home_store_id",
            "loyalty_interest_ids",
            "loyalty_source_id",
            "loyalty_medium_id",
            "loyalty_campaign_id",
            "loyalty_referral_code",
            "loyalty_tier_id",
        )
        cards = (
            self.env["loyalty.card"]
            .sudo()
            .with_context(active_test=False)
            .search([("partner_id", "=", partner.id), ("is_bonus_card", "=", True)])
        )
        ledger = (
            self.env["loyalty.ledger"]
            .sudo()
            .search([("card_id", "in", cards.ids)], order="date, id")
        )
        occurrences = (
            self.env["loyalty.campaign.occurrence"]
            .sudo()
            .search([("partner_id", "=", partner.id)], order="date, id")
        )
        requests = (
            self.env["loyalty.privacy.request"]
            .sudo()
            .search([("partner_id", "=", partner.id)], order="done_on, id")
        )
        return {
            "exported_at": fields.Datetime.now().isoformat(),
            "member": {
                partner._fields[name].string: label(partner, name)
                for name in questionnaire
            },
            "consents": [
                {
                    name: label(consent, name)
                    for name in ("date", "purpose", "consent", "channel", "source")
                }
                for consent in partner.loyalty_consent_ids.sorted(
                    lambda c: (c.date, c.id)
                )
            ],
            "cards": [
                {
                    "code": card.code,
                    "state": label(card, "loyalty_state"),
                    "state_reason": card.loyalty_state_reason or None,
                    "activated": label(card, "activation_date"),
                    "points": round(card.points, 2),
                }
                for card in cards
            ],
            "ledger": [
                {
                    "date": label(entry, "date"),
                    "card": entry.card_id.code,
                    "type": label(entry, "entry_type"),
                    "points": round(entry.points, 2),
                    "state": label(entry, "state"),
                    "expiry_date": label(entry, "expiry_date"),
                    "reason": entry.reason or None,
                    "purchase_amount": round(entry.amount, 2) if entry.amount else None,
                }
                for entry in ledger
            ],
            "campaign_messages": [
                {
                    "date": label(occurrence, "date"),
                    "campaign": occurrence.campaign_id.name,
                    "channel": label(occurrence.campaign_id, "channel"),
                    "state": label(occurrence, "state"),
                    "delivery": label(occurrence, "trace_status"),
                }
                for occurrence in occurrences
            ],
            "personal_data_requests": [
                {
                    name: label(req, name)
                    for name in ("request_type", "channel", "requested_on", "done_on")
                }
                for req in requests
            ],
        }

    def _loyalty_export_file(self):
        """The export as an attachment of the member (JSON, UTF-8)."""
        self.ensure_one()
        data = json.dumps(
            self._loyalty_personal_data(), ensure_ascii=False, indent=1, default=str
        )
        return (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": _(
                        "personal-data-%(date)s.json",
                        date=fields.Date.context_today(self).isoformat(),
                    ),
                    "raw": data.encode(),
                    "mimetype": "application/json",
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )

    def _loyalty_log_request(self, request_type, channel, requested_on=None, **vals):
        self.ensure_one()
        return (
            self.env["loyalty.privacy.request"]
            .sudo()
            .create(
                dict(
                    vals,
                    partner_id=self.id,
                    request_type=request_type,
                    channel=channel,
                    requested_on=requested_on or fields.Date.context_today(self),
                    done_by=self.env.user.id,
                )
            )
        )

    def action_loyalty_privacy_request(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Personal Data Request"),
            "res_model": "loyalty.privacy.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.id},
        }

    # ------------------------------------------------------------ erasure
    def _loyalty_erase(self):
        """Erase the member's personal data; amounts and links stay.

        After it, neither the phone nor a card number finds the member, and
        nothing the addon keeps names them: their texts are removed from the
        chatter, the ledger's reasons, the import files and reports, the API's
        stored answers and the message traces.
        """
        self.ensure_one()
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(_("Only a Loyalty Manager can erase personal data."))
        if self.loyalty_erased:
            raise UserError(_("The personal data of this member was already erased."))
        partners = self.sudo().with_context(active_test=False)
        partners |= partners.child_ids
        cards = (
            self.env["loyalty.card"]
            .sudo()
            .with_context(active_test=False)
            .search([("partner_id", "in", partners.ids)])
        )
        # what identified the member, to scrub it from texts
        identifiers = {
            value
            for partner in partners
            for value in (
                partner.name,
                partner.email,
                partner.email_normalized,
                partner.phone,
                partner.mobile,
                partner.loyalty_phone,
                partner.loyalty_referral_code,
            )
            if value and len(value) >= 3
        } | {code for code in cards.mapped("code") if code}
        digits = {
            re.sub(r"\D", "", value)[-10:]
            for value in (p.loyalty_phone or p.phone or p.mobile for p in partners)
            if value and len(re.sub(r"\D", "", value)) >= 10
        }
        pseudonym = _("Erased member %(ref)s", ref=self.id)
        self.env["loyalty.ledger"]._lock_cards(cards)
        for card in cards:
            vals = {"code": f"ERASED-{secrets.token_hex(8)}"}
            if card.loyalty_state in ("issued", "active"):
                vals.update(
                    loyalty_state="blocked",
                    loyalty_state_reason=_("Personal data erased"),
                )
            card.with_context(tracking_disable=True).write(vals)
        self.env["loyalty.otp"].sudo().search([("card_id", "in", cards.ids)]).unlink()
        erase = dict.fromkeys(ERASED_FIELDS, False)
        erase.update(loyalty_interest_ids=[(5,)], loyalty_channel_ids=[(5,)])
        users = partners.user_ids.sudo().with_context(active_test=False)
        for user in users:  # a portal login is often the email
            user.write({"login": f"erased-{user.id}-{secrets.token_hex(4)}"})
        users.write({"active": False})
        partners.with_context(
            tracking_disable=True, mail_notrack=True, loyalty_erasure=True
        ).write(dict(erase, name=pseudonym, loyalty_erased=True, active=False))
        self._loyalty_scrub(partners, cards, identifiers, digits, pseudonym)
        self.env["loyalty.consent"].sudo().create(
            [
                {
                    "partner_id": self.id,
                    "purpose": purpose,
                    "consent": "opt_out",
                    "channel": "all",
                    "source": "erasure",
                }
                for purpose in ("marketing", "personal_data")
            ]
        )
        self.sudo().message_post(
            body=_("Personal data erased on request."),
            author_id=self.env.user.partner_id.id,
        )
        return True

    def _loyalty_scrub(self, partners, cards, identifiers, digits, pseudonym):
        """Remove the member's texts from what the addon keeps beside the partner."""
        env = self.env
        sudo = env["mail.message"].sudo()
        sudo.search(
            [
                "|",
                "&",
                ("model", "=", "res.partner"),
                ("res_id", "in", partners.ids),
                "&",
                ("model", "=", "loyalty.card"),
                ("res_id", "in", cards.ids),
            ]
        ).unlink()
        sudo.search([("author_id", "in", partners.ids)]).write(
            {"email_from": False, "author_id": False}
        )
        env["sms.sms"].sudo().search([("partner_id", "in", partners.ids)]).unlink()
        env["mailing.trace"].sudo().search(
            [("model", "=", "res.partner"), ("res_id", "in", partners.ids)]
        ).write({"email": False, "sms_number": False})
        env.flush_all()
        ordered = sorted(identifiers, key=len, reverse=True)
        for value in ordered:
            # free texts naming the member: ledger reasons (theirs and those of
            # the members they referred), stored API answers
            env.execute_query(
                SQL(
                    "UPDATE loyalty_ledger SET reason = replace(reason, %s, %s)"
                    " WHERE reason LIKE %s",
                    value,
                    pseudonym,
                    f"%{value}%",
                )
            )
            env.execute_query(
                SQL(
                    "UPDATE loyalty_api_request SET response_body = %s"
                    " WHERE response_body LIKE %s",
                    json.dumps({"erased": True}),
                    f"%{json.dumps(value)[1:-1]}%",
                )
            )
        env.execute_query(
            SQL(
                "UPDATE loyalty_consent SET note = NULL WHERE partner_id IN %s",
                tuple(partners.ids),
            )
        )
        env["loyalty.ledger"].invalidate_model(["reason"])
        env["loyalty.consent"].invalidate_model(["note"])
        self._loyalty_scrub_import_files(ordered, digits)

    def _loyalty_scrub_import_files(self, identifiers, digits):
        """Drop the member's lines from the import files and their reports."""
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .search([("res_model", "=", "loyalty.import.batch")])
        )
        for attachment in attachments:
            raw = attachment.raw or b""
            text = None
            for encoding in ("utf-8-sig", "cp1251"):
                try:
                    text = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            if text is None or "\x00" in text or raw[:2] == b"PK":
                # a spreadsheet: its rows can't be told apart here; the file goes
                if any(value.encode() in raw for value in identifiers) or digits:
                    attachment.write({"raw": b""})
                continue
            lines = text.splitlines(keepends=True)
            kept = [
                line
                for line in lines
                if not any(value in line for value in identifiers)
                and not any(d in re.sub(r"\D", "", line) for d in digits)
            ]
            if len(kept) != len(lines):
                attachment.write({"raw": "".join(kept).encode("utf-8-sig")})

    # ------------------------------------------------------------ opt-out
    @api.model
    def _loyalty_channel_opt_out(self, channel, emails=None, phones=None):
        """Record an opt-out of ``channel`` for the members with these emails or
        phones, blocklisted by the member: Odoo's unsubscribe pages (email, SMS)
        or a STOP reply. A user's blocklisting is not the member's answer."""
        domain = []
        if emails:
            normalized = [e for e in (email_normalize(x) for x in emails) if e]
            domain = [("email_normalized", "in", normalized)]
        elif phones:
            domain = [("loyalty_phone", "in", [p for p in phones if p])]
        if not domain:
            return self.browse()
        source = self.env.context.get("loyalty_consent_source")
        if not source:
            path = request.httprequest.path if request else ""
            if not path.startswith(("/mailing/", "/sms/")):
                # blocklisted by a user, not by the member: no consent was given
                return self.browse()
            source = "unsubscribe"
        members = self.sudo().search(domain + [("loyalty_is_member", "=", True)])
        self.env["loyalty.consent"].sudo().create(
            [
                {
                    "partner_id": member.id,
                    "purpose": "marketing",
                    "consent": "opt_out",
                    "channel": channel,
                    "source": source,
                    "company_id": (member.company_id or self.env.company).id,
                }
                for member in members
            ]
        )
        return members

    @api.model
    def _loyalty_sms_reply(self, number, text):
        """An SMS reply reported by the provider: STOP (СТОП) opts the number out.

        Returns the members opted out (none when the text is not a stop word).
        """
        word = re.sub(r"[^\w]", "", (text or "").strip().lower())
        if word not in STOP_WORDS:
            return self.browse()
        try:
            phone = normalize_phone(number, self.env.company.loyalty_phone_region)
        except ValueError:
            return self.browse()
        if not phone:
            return self.browse()
        blacklist = self.env["phone.blacklist"].sudo()
        before = self.sudo().search([("loyalty_phone", "=", phone)])
        blacklist.with_context(loyalty_consent_source="sms_reply")._add(
            [phone], message=_("STOP reply to an SMS")
        )
        return before
