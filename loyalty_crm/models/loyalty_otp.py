"""One-time codes by SMS: spending points of a member found by phone.

A phone number is easy to know and to say; a card must be held. When the till
(or an API client) found the member by phone, spending points needs the code the
program sends by SMS to that phone (if the program asks for it, the default).
Accrual never does. A code lives 5 minutes, takes 3 attempts, and a new one can
be asked for after a minute (5 an hour at most); every refusal says why.

Only a keyed hash of the code is stored. A wrong attempt is counted even when
the request that made it is rolled back (an API error rolls everything back): the
count is then written again in a transaction of its own.
"""

import datetime
import hashlib
import hmac
import logging
import secrets

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools import LoyaltyError

_logger = logging.getLogger(__name__)

CODE_DIGITS = 6
LIFETIME = datetime.timedelta(minutes=5)
MAX_ATTEMPTS = 3
RESEND_AFTER = datetime.timedelta(seconds=60)
MAX_PER_HOUR = 5


def mask_phone(phone):
    """``+7 ••• •••-45-67``: enough for the member to recognise their number."""
    phone = phone or ""
    return f"{phone[:2]} ••• •••-{phone[-4:-2]}-{phone[-2:]}" if len(phone) > 6 else ""


class LoyaltyOtp(models.Model):
    _name = "loyalty.otp"
    _description = "One-time Code to Spend Points"
    _order = "id desc"

    card_id = fields.Many2one(
        "loyalty.card", required=True, index=True, ondelete="cascade", readonly=True
    )
    partner_id = fields.Many2one(
        "res.partner", string="Member", required=True, readonly=True
    )
    phone = fields.Char(required=True, readonly=True)
    channel = fields.Selection(
        [("pos", "Point of Sale"), ("api", "API")], required=True, readonly=True
    )
    salt = fields.Char(required=True, readonly=True, groups="base.group_system")
    code_hash = fields.Char(required=True, readonly=True, groups="base.group_system")
    sent_at = fields.Datetime(required=True, readonly=True)
    expires_at = fields.Datetime(required=True, readonly=True)
    attempts = fields.Integer(default=0, readonly=True)
    state = fields.Selection(
        [
            ("sent", "Sent"),
            ("used", "Used"),
            ("blocked", "Too many attempts"),
            ("replaced", "Replaced by a newer code"),
        ],
        default="sent",
        required=True,
        readonly=True,
    )
    used_at = fields.Datetime(readonly=True)
    used_ref = fields.Char(
        string="Used For",
        readonly=True,
        index="btree_not_null",
        help="The operation the code confirmed (the till's order, the API request).",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Asked By",
        readonly=True,
        default=lambda self: self.env.user,
    )

    # ------------------------------------------------------------ codes
    @staticmethod
    def _hash(salt, code):
        return hmac.new(
            salt.encode(), str(code).strip().encode(), hashlib.sha256
        ).hexdigest()

    def _secret_salt(self):
        # the database secret makes the stored hash useless without it
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        return f"{secret}:{secrets.token_hex(8)}"

    def _loyalty_public(self):
        """What the till or the API client is told of a code (never the code)."""
        self.ensure_one()
        now = fields.Datetime.now()
        return {
            "otp_id": self.id,
            "phone": mask_phone(self.phone),
            "expires_at": self.expires_at,
            "expires_in": max(int((self.expires_at - now).total_seconds()), 0),
            "resend_in": max(
                int((self.sent_at + RESEND_AFTER - now).total_seconds()), 0
            ),
            "attempts_left": max(MAX_ATTEMPTS - self.attempts, 0),
        }

    @api.model
    def _loyalty_request(self, card, channel):
        """Send a new code to the member of ``card``; returns the code's record.

        The card is locked, so two tills asking at once send one code. Earlier
        codes still open are replaced: only the latest one works.
        """
        partner = card.partner_id
        phone = partner.loyalty_phone
        if not phone:
            raise LoyaltyError(
                "validation_error",
                _("%(member)s has no phone to send a code to.", member=partner.name),
            )
        self.env["loyalty.ledger"]._lock_cards(card)
        now = fields.Datetime.now()
        recent = self.sudo().search(
            [
                ("card_id", "=", card.id),
                ("sent_at", ">", now - datetime.timedelta(hours=1)),
            ],
            order="sent_at desc, id desc",
        )
        if recent and recent[0].sent_at + RESEND_AFTER > now:
            wait = int((recent[0].sent_at + RESEND_AFTER - now).total_seconds()) + 1
            raise LoyaltyError(
                "otp_rate_limited",
                _(
                    "A code was just sent to %(phone)s: a new one can be sent in "
                    "%(seconds)s seconds.",
                    phone=mask_phone(phone),
                    seconds=wait,
                ),
            )
        if len(recent) >= MAX_PER_HOUR:
            raise LoyaltyError(
                "otp_rate_limited",
                _(
                    "%(count)s codes were sent to %(phone)s within an hour: no more "
                    "for now. Scan the member's card instead.",
                    count=len(recent),
                    phone=mask_phone(phone),
                ),
            )
        recent.filtered(lambda o: o.state == "sent").write({"state": "replaced"})
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        salt = self._secret_salt()
        otp = self.sudo().create(
            {
                "card_id": card.id,
                "partner_id": partner.id,
                "phone": phone,
                "channel": channel,
                "salt": salt,
                "code_hash": self._hash(salt, code),
                "sent_at": now,
                "expires_at": now + LIFETIME,
            }
        )
        otp._send(code)
        return otp

    def _send(self, code):
        """Queue the SMS (Odoo's ``sms`` queue sends it after the commit)."""
        partner = self.partner_id
        program = self.card_id.program_id
        body = (
            self.with_context(lang=partner.lang or self.env.lang)
            .env["loyalty.otp"]
            ._sms_body(code, program.name)
        )
        self.env["sms.sms"].sudo().create(
            {"number": self.phone, "body": body, "partner_id": partner.id}
        )
        self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()

    @api.model
    def _sms_body(self, code, program):
        return _(
            "%(code)s: your code to spend %(program)s points. It expires in 5 "
            "minutes. Tell it to the cashier only.",
            code=code,
            program=program,
        )

    # ------------------------------------------------------------ checks
    @api.model
    def _loyalty_check_spend(self, card, identification, reference):
        """Let spending on ``card`` go on, or raise a ``LoyaltyError`` saying why.

        ``identification`` is how the member was identified: ``{"card": code}``
        when the card was scanned (or given to the API), ``{"otp_id": id,
        "code": "123456"}`` with the code they received. ``reference`` names the
        operation: a code confirms one operation (the till's order: changing
        the points of the same order needs no new code).
        """
        if not card.program_id.spend_otp:
            return True
        identification = identification if isinstance(identification, dict) else {}
        scanned = identification.get("card")
        if isinstance(scanned, str) and scanned.strip() == card.code:
            return True
        confirmed = self.sudo().search_count(
            [
                ("card_id", "=", card.id),
                ("state", "=", "used"),
                ("used_ref", "=", reference),
            ],
            limit=1,
        )
        if confirmed:
            return True
        otp_id, code = identification.get("otp_id"), identification.get("code")
        if not otp_id or not code:
            raise LoyaltyError(
                "otp_required",
                _(
                    "The member was found by phone: spending points needs the code "
                    "sent by SMS to %(phone)s.",
                    phone=mask_phone(card.partner_id.loyalty_phone),
                ),
            )
        return self._loyalty_verify(card, otp_id, code, reference)

    @api.model
    def _loyalty_verify(self, card, otp_id, code, reference):
        if not isinstance(otp_id, int) or isinstance(otp_id, bool) or otp_id <= 0:
            otp_id = 0
        otp = self.sudo().browse(otp_id).exists() if otp_id < 2**31 else self.browse()
        if not otp or otp.card_id != card:
            raise LoyaltyError(
                "otp_invalid",
                _("This code was not sent to this member: send a new code."),
            )
        self.env.flush_all()
        self.env.execute_query(
            SQL("SELECT id FROM loyalty_otp WHERE id = %s FOR NO KEY UPDATE", otp.id)
        )
        otp.invalidate_recordset()
        if otp.state == "used":
            if otp.used_ref == reference:
                return True
            raise LoyaltyError(
                "otp_used", _("This code was already used: send a new code.")
            )
        if otp.state == "replaced":
            raise LoyaltyError(
                "otp_invalid",
                _("A newer code was sent to the member: enter the latest code."),
            )
        if otp.state == "blocked" or otp.attempts >= MAX_ATTEMPTS:
            raise LoyaltyError(
                "otp_blocked", _("Too many wrong codes: send a new code.")
            )
        if otp.expires_at <= fields.Datetime.now():
            raise LoyaltyError(
                "otp_expired",
                _("The code expired (it lives 5 minutes): send a new code."),
            )
        if not isinstance(code, str | int) or not hmac.compare_digest(
            otp._hash(otp.salt, code), otp.code_hash
        ):
            attempts = otp._count_failure()
            left = MAX_ATTEMPTS - attempts
            if left <= 0:
                raise LoyaltyError(
                    "otp_blocked",
                    _("Wrong code, and that was the last attempt: send a new code."),
                )
            raise LoyaltyError(
                "otp_invalid",
                _("Wrong code: %(left)s attempts left.", left=left),
            )
        otp.write(
            {"state": "used", "used_at": fields.Datetime.now(), "used_ref": reference}
        )
        return True

    def _count_failure(self):
        """Count a wrong attempt; returns the attempts so far.

        The caller is about to refuse, and its transaction may be rolled back
        (the API rolls back every refusal): then the same count is written again
        in a transaction of its own, so that a wrong code always costs an
        attempt.
        """
        self.ensure_one()
        query = SQL(
            """
            UPDATE loyalty_otp
               SET attempts = COALESCE(attempts, 0) + 1,
                   state = CASE WHEN COALESCE(attempts, 0) + 1 >= %(max)s
                                THEN 'blocked' ELSE state END
             WHERE id = %(id)s
         RETURNING attempts
            """,
            max=MAX_ATTEMPTS,
            id=self.id,
        )
        [(attempts,)] = self.env.execute_query(query)
        self.invalidate_recordset(["attempts", "state"])
        registry = self.env.registry

        def count_again():
            with registry.cursor() as cr:
                cr.execute(query)

        self.env.cr.postrollback.add(count_again)
        return attempts

    @api.autovacuum
    def _gc_old_codes(self):
        """Codes older than a day are of no use any more."""
        self.sudo().search(
            [("sent_at", "<", fields.Datetime.now() - datetime.timedelta(days=1))]
        ).unlink()
