import calendar

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, email_normalize

from ..tools import normalize_phone, phone_problem
from .loyalty_card import USABLE_STATES

# Questionnaire answers that make up the completeness score.
COMPLETENESS_FIELDS = (
    "phone",
    "email",
    "loyalty_birthdate",
    "loyalty_gender",
    "loyalty_marital_status",
    "loyalty_employment",
    "loyalty_children",
    "loyalty_channel_ids",
    "city",
    "loyalty_interest_ids",
)
PHONE_FIELDS = ("phone", "mobile")
# Russian letters in Latin, for referral codes ("-": letter dropped)
TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        (
            "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e "
            "yu ya"
        ).split(),
        strict=True,
    )
)


class ResPartner(models.Model):
    _inherit = "res.partner"

    # ------------------------------------------------------------ questionnaire
    loyalty_birthdate = fields.Date(string="Birth Date", tracking=True)
    loyalty_age = fields.Integer(
        string="Age", compute="_compute_loyalty_age", search="_search_loyalty_age"
    )
    loyalty_gender = fields.Selection(
        [("male", "Male"), ("female", "Female"), ("other", "Other")],
        string="Gender",
        tracking=True,
    )
    loyalty_marital_status = fields.Selection(
        [
            ("single", "Single"),
            ("married", "Married"),
            ("divorced", "Divorced"),
            ("widowed", "Widowed"),
        ],
        string="Marital Status",
        tracking=True,
    )
    loyalty_employment = fields.Selection(
        [
            ("employed", "Employed"),
            ("self_employed", "Self-employed"),
            ("student", "Student"),
            ("retired", "Retired"),
            ("unemployed", "Unemployed"),
        ],
        string="Employment",
        tracking=True,
    )
    loyalty_occupation = fields.Char(string="Occupation", tracking=True)
    loyalty_children = fields.Selection(
        [
            ("0", "No children"),
            ("1", "One child"),
            ("2", "Two children"),
            ("3", "Three or more"),
        ],
        string="Children",
        tracking=True,
    )
    loyalty_channel_ids = fields.Many2many(
        "loyalty.notification.channel",
        string="Preferred Channels",
        help="How the member wants to hear from us. 'None' means no messages.",
    )
    loyalty_home_store_id = fields.Many2one(
        "pos.config", string="Home Store", tracking=True
    )
    loyalty_interest_ids = fields.Many2many(
        "product.category",
        string="Interests",
        help="Product categories the member likes.",
    )
    loyalty_source_id = fields.Many2one(
        "utm.source", string="Acquisition Source", tracking=True
    )
    loyalty_medium_id = fields.Many2one(
        "utm.medium", string="Acquisition Medium", tracking=True
    )
    loyalty_campaign_id = fields.Many2one(
        "utm.campaign", string="Acquisition Campaign", tracking=True
    )
    loyalty_consent_ids = fields.One2many(
        "loyalty.consent", "partner_id", string="Consents"
    )
    loyalty_marketing_consent = fields.Boolean(
        string="Marketing Consent",
        compute="_compute_loyalty_marketing_consent",
        store=True,
        help="The member's latest answer to marketing messages (all channels).",
    )
    loyalty_completeness = fields.Integer(
        string="Questionnaire Completeness",
        compute="_compute_loyalty_completeness",
        store=True,
        help="Share of the questionnaire the member filled in, 0-100.",
    )
    # ------------------------------------------------------------ membership
    loyalty_card_ids = fields.One2many(
        "loyalty.card", "partner_id", string="Loyalty Cards"
    )
    loyalty_card_id = fields.Many2one(
        "loyalty.card",
        string="Member Card",
        compute="_compute_loyalty_card_id",
        store=True,
        index="btree_not_null",
    )
    loyalty_is_member = fields.Boolean(
        string="Member", compute="_compute_loyalty_card_id", store=True, index=True
    )
    loyalty_card_code = fields.Char(
        related="loyalty_card_id.code", string="Card Number"
    )
    loyalty_card_state = fields.Selection(related="loyalty_card_id.loyalty_state")
    loyalty_points = fields.Float(
        related="loyalty_card_id.points", string="Bonus Points", digits=(16, 2)
    )
    loyalty_points_pending = fields.Float(
        related="loyalty_card_id.points_pending", string="Pending Bonus Points"
    )
    loyalty_debt = fields.Float(
        related="loyalty_card_id.loyalty_debt", string="Points Owed", digits=(16, 2)
    )
    loyalty_points_expiring = fields.Float(
        string="Expiring within 30 Days",
        compute="_compute_loyalty_points_expiring",
        digits=(16, 2),
    )
    loyalty_points_expiring_date = fields.Date(
        string="Next Expiry", compute="_compute_loyalty_points_expiring"
    )
    loyalty_phone = fields.Char(
        string="Member Phone",
        compute="_compute_loyalty_phone",
        store=True,
        copy=False,
        help="The member's phone in E.164: it identifies the member like a card.",
    )
    loyalty_lookup = fields.Char(
        string="Card or Phone",
        compute="_compute_loyalty_lookup",
        search="_search_loyalty_lookup",
        help="Find a member by card number or phone number in any notation.",
    )

    loyalty_tier_id = fields.Many2one(
        "loyalty.tier",
        string="Tier",
        readonly=True,
        tracking=True,
        index="btree_not_null",
    )
    loyalty_tier_history_ids = fields.One2many(
        "loyalty.tier.history", "partner_id", string="Tier History"
    )

    loyalty_referral_code = fields.Char(
        string="Referral Code",
        copy=False,
        readonly=True,
        help="The code a member shares to invite friends.",
    )
    loyalty_referrer_id = fields.Many2one(
        "res.partner",
        string="Invited By",
        readonly=True,
        index="btree_not_null",
        copy=False,
    )

    _sql_constraints = [
        (
            "loyalty_referral_code_unique",
            "UNIQUE(loyalty_referral_code)",
            "Referral codes are unique.",
        ),
        (
            "loyalty_phone_unique",
            "UNIQUE(loyalty_phone)",
            "Another member already has this phone number.",
        ),
    ]

    # ------------------------------------------------------------ computes
    @api.depends("loyalty_birthdate")
    def _compute_loyalty_age(self):
        today = fields.Date.context_today(self)
        for partner in self:
            birthdate = partner.loyalty_birthdate
            partner.loyalty_age = (
                relativedelta(today, birthdate).years if birthdate else 0
            )

    def _search_loyalty_age(self, operator, value):
        if operator not in ("=", "!=", "<", "<=", ">", ">="):
            raise UserError(
                _("Unsupported search on age: %(operator)s", operator=operator)
            )
        today = fields.Date.context_today(self)
        value = int(value)
        # age >= N  <=>  born on or before today - N years
        youngest = today - relativedelta(years=value)  # age == value from here ...
        oldest = today - relativedelta(years=value + 1, days=-1)  # ... to here
        domains = {
            "=": [
                ("loyalty_birthdate", "<=", youngest),
                ("loyalty_birthdate", ">=", oldest),
            ],
            ">=": [("loyalty_birthdate", "<=", youngest)],
            ">": [("loyalty_birthdate", "<", oldest)],
            "<": [("loyalty_birthdate", ">", youngest)],
            "<=": [("loyalty_birthdate", ">=", oldest)],
        }
        if operator == "!=":
            return [
                ("loyalty_birthdate", "!=", False),
                "!",
                *expression.AND([domains["="]]),
            ]
        return expression.AND([[("loyalty_birthdate", "!=", False)], domains[operator]])

    @api.depends("loyalty_consent_ids.consent", "loyalty_consent_ids.date")
    def _compute_loyalty_marketing_consent(self):
        for partner in self:
            partner.loyalty_marketing_consent = self._loyalty_marketing_consent_of(
                (c.purpose, c.channel, c.consent, c.date, c.id)
                for c in partner.loyalty_consent_ids
            )

    @api.model
    def _loyalty_marketing_consent_of(self, consents):
        """The latest answer to marketing messages on all channels, from
        ``(purpose, channel, consent, date[, id])`` tuples: opted in or not."""
        latest = max(
            (c for c in consents if c[0] == "marketing" and c[1] == "all"),
            key=lambda c: c[3:],
            default=None,
        )
        return bool(latest) and latest[2] == "opt_in"

    @api.depends(*COMPLETENESS_FIELDS)
    def _compute_loyalty_completeness(self):
        for partner in self:
            partner.loyalty_completeness = self._loyalty_completeness_of(partner)

    @api.model
    def _loyalty_completeness_of(self, values):
        """Share of the questionnaire filled in, 0-100, of a partner or of the
        values of a new one."""
        get = values.get if isinstance(values, dict) else values.__getitem__
        filled = sum(1 for name in COMPLETENESS_FIELDS if get(name))
        return round(100 * filled / len(COMPLETENESS_FIELDS))

    @api.depends(
        "loyalty_card_ids.loyalty_state",
        "loyalty_card_ids.program_id",
        "loyalty_card_ids.active",
    )
    def _compute_loyalty_card_id(self):
        for partner in self:
            cards = partner.loyalty_card_ids.filtered(
                lambda c: c.is_bonus_card
                and c.active
                and c.loyalty_state in USABLE_STATES + ("blocked",)
            )
            company_program = (
                partner.company_id or self.env.company
            ).loyalty_bonus_program_id
            card = (
                cards.filtered(lambda c, p=company_program: c.program_id == p)[:1]
                or cards[:1]
            )
            partner.loyalty_card_id = card
            partner.loyalty_is_member = bool(card)

    @api.depends("phone", "mobile", "loyalty_is_member")
    def _compute_loyalty_phone(self):
        for partner in self:
            number = partner.loyalty_is_member and (partner.phone or partner.mobile)
            try:
                partner.loyalty_phone = normalize_phone(
                    number, partner._loyalty_phone_region()
                )
            except ValueError:
                partner.loyalty_phone = False

    def _compute_loyalty_points_expiring(self):
        cards = self.loyalty_card_id
        horizon = fields.Date.add(fields.Date.context_today(self), days=31)
        lots = (
            self.env["loyalty.ledger"]._open_lots(cards, expired_before=horizon)
            if cards
            else []
        )
        expiring, first = {}, {}
        for _lot, card_id, points, expiry in lots:
            expiring[card_id] = expiring.get(card_id, 0.0) + points
            first[card_id] = min(first.get(card_id, expiry), expiry)
        for partner in self:
            card_id = partner.loyalty_card_id.id
            partner.loyalty_points_expiring = round(expiring.get(card_id, 0.0), 2)
            partner.loyalty_points_expiring_date = first.get(card_id, False)

    def _compute_loyalty_lookup(self):
        for partner in self:
            partner.loyalty_lookup = partner.loyalty_card_code or partner.loyalty_phone

    def _search_loyalty_lookup(self, operator, value):
        if (
            operator not in ("=", "ilike")
            or not isinstance(value, str)
            or not value.strip()
        ):
            return expression.FALSE_DOMAIN
        return [("id", "in", self._loyalty_lookup(value.strip()).ids)]

    # ------------------------------------------------------------ constraints
    @api.constrains("loyalty_phone", "phone", "mobile", "loyalty_is_member")
    def _check_loyalty_phone_unique(self):
        """A clear message before the database's unique index refuses it.

        Reads the other members straight from the table: an ORM search would
        flush the new phone first and hit the unique index instead.
        """
        phones = {p.loyalty_phone: p for p in self if p.loyalty_phone}
        if not phones:
            return
        rows = self.env.execute_query(
            SQL(
                "SELECT loyalty_phone, id FROM res_partner"
                " WHERE loyalty_phone IN %s AND id NOT IN %s",
                tuple(phones),
                tuple(self.ids),
            )
        )
        for phone, other_id in rows:
            other = self.browse(other_id).sudo()
            card = other.loyalty_card_id.code
            raise ValidationError(
                _(
                    "Phone %(phone)s already belongs to member %(member)s "
                    "(card %(card)s). Open that member (Loyalty > Members, search "
                    "%(phone)s) instead of creating a second one.",
                    phone=phone,
                    member=other.display_name,
                    card=card or "-",
                )
            )

    # ------------------------------------------------------------ CRUD
    def _loyalty_phone_region(self):
        company = self.company_id or self.env.company
        return self.country_id.code or company.loyalty_phone_region or "RU"

    def _loyalty_normalize_phones(self, vals):
        """Return ``vals`` with member phones in E.164, or raise naming the field."""
        vals = dict(vals)
        if self.country_id or "country_id" in vals:
            country = (
                self.env["res.country"].browse(vals.get("country_id"))
                or self.country_id
            )
            region = country.code
        else:
            region = self._loyalty_phone_region()
        for name in PHONE_FIELDS:
            if vals.get(name):
                try:
                    vals[name] = normalize_phone(vals[name], region)
                except ValueError as error:
                    reasons = {
                        "too_short": _("too few digits"),
                        "too_long": _("too many digits"),
                        "not_a_number": _("it is not a phone number"),
                        "invalid": _("no such number exists"),
                    }
                    raise ValidationError(
                        _(
                            "%(field)s: %(number)s is not a valid phone number: "
                            "%(reason)s. Type it like +7 916 123-45-67 or "
                            "8 916 123-45-67.",
                            field=self._fields[name]._description_string(self.env),
                            number=vals[name],
                            reason=reasons[phone_problem(vals[name], region)],
                        )
                    ) from error
        return vals

    def write(self, vals):
        if any(name in vals for name in PHONE_FIELDS) and any(
            self.mapped("loyalty_is_member")
        ):
            if len(self) > 1:
                for partner in self:
                    partner.write(vals)
                return True
            vals = self._loyalty_normalize_phones(vals)
        members = self.filtered("loyalty_is_member")
        if members and not self.env.context.get("loyalty_erasure"):
            members._loyalty_check_required(vals)
        res = super().write(vals)
        if members and set(vals) & set(COMPLETENESS_FIELDS):
            members._loyalty_grant_questionnaire_bonus()
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_loyalty_member(self):
        holders = (
            self.env["loyalty.card"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.ids),
                    ("is_bonus_card", "=", True),
                    "|",
                    ("points", "!=", 0),
                    ("ledger_ids", "!=", False),
                ],
                limit=1,
            )
        )
        if holders:
            raise UserError(
                _(
                    "%(member)s holds bonus points and their history: archive the "
                    "contact instead of deleting it.",
                    member=holders.partner_id.display_name,
                )
            )

    # ------------------------------------------------------------ enrolment
    def _loyalty_required_fields(self):
        company = self.company_id or self.env.company
        return company.sudo().loyalty_required_field_ids.mapped("name")

    def _loyalty_check_required(self, vals=None):
        """Raise when a required questionnaire answer is missing (or being cleared)."""
        for partner in self:
            required = ["name", "phone"] + partner._loyalty_required_fields()
            if vals is not None:
                required = [name for name in required if name in vals]
            missing = [
                partner._fields[name]._description_string(self.env)
                for name in required
                if not (vals[name] if vals is not None else partner[name])
                and not (
                    name == "phone" and (partner.mobile or (vals or {}).get("mobile"))
                )
            ]
            if missing:
                raise ValidationError(
                    _(
                        "To enrol %(member)s in the bonus program, fill in: "
                        "%(fields)s.",
                        member=partner.display_name or _("a member"),
                        fields=", ".join(missing),
                    )
                )

    def _loyalty_enrol(
        self,
        program=None,
        card_code=None,
        source="backoffice",
        consent=None,
        referral_code=None,
        coalition_partner=None,
    ):
        """Make the partner a member: validate the questionnaire and issue the card.

        ``consent`` (``True``/``False``/``None``) records the marketing opt-in or
        opt-out given at enrolment; ``referral_code`` is the code of the member
        who invited them; ``coalition_partner`` the partner business that enrols
        them (its welcome bonuses are attributed to it). Returns the new card.
        """
        self.ensure_one()
        referrer = self.browse()
        if referral_code:
            referrer = self.sudo().search(
                [
                    ("loyalty_referral_code", "=ilike", referral_code.strip()),
                    ("loyalty_is_member", "=", True),
                ],
                limit=1,
            )
            if not referrer or referrer == self:
                raise UserError(
                    _("Referral code %(code)s is unknown.", code=referral_code)
                )
        program = program or self.env["loyalty.program"]._get_bonus_program(
            self.company_id or self.env.company
        )
        if self.loyalty_card_id and self.loyalty_card_id.program_id == program:
            raise UserError(
                _(
                    "%(member)s is already a member (card %(card)s).",
                    member=self.display_name,
                    card=self.loyalty_card_id.code,
                )
            )
        self._loyalty_check_required()
        phone_vals = self._loyalty_normalize_phones(
            {name: self[name] for name in PHONE_FIELDS if self[name]}
        )
        phone = phone_vals.get("phone") or phone_vals.get("mobile")
        other = self.with_context(active_test=False).search(
            [("loyalty_phone", "=", phone), ("id", "!=", self.id)], limit=1
        )
        if other:
            raise ValidationError(
                _(
                    "Phone %(phone)s already belongs to member %(member)s.",
                    phone=phone,
                    member=other.display_name,
                )
            )
        card_code = (card_code or "").strip()
        Card = self.env["loyalty.card"].sudo()
        if card_code and Card.search_count([("code", "=", card_code)], limit=1):
            raise UserError(
                _("Card number %(code)s is already in use.", code=card_code)
            )
        phone_vals["loyalty_referral_code"] = self._loyalty_new_referral_code()
        if referrer:
            phone_vals["loyalty_referrer_id"] = referrer.id
        super().write(phone_vals)
        card_vals = {
            "program_id": program.id,
            "partner_id": self.id,
            "loyalty_state": "issued"
            if program.card_activation == "first_purchase"
            else "active",
        }
        if card_code:
            card_vals["code"] = card_code
        card = Card.with_context(loyalty_no_mail=True).create(card_vals)
        if consent is not None:
            self.env["loyalty.consent"]._record(
                self, bool(consent), source, company=program.company_id
            )
        self.message_post(
            body=_(
                "Enrolled in %(program)s, card %(card)s.",
                program=program.name,
                card=card.code,
            )
        )
        if program.welcome_points:
            self.env["loyalty.ledger"]._post_once(
                card,
                program.welcome_points,
                "bonus",
                f"res.partner/{self.id}/welcome",
                reason=_("Welcome bonus"),
                source=self,
                coalition_partner=coalition_partner,
            )
        self._loyalty_grant_questionnaire_bonus(coalition_partner=coalition_partner)
        self._loyalty_update_tiers(allow_downgrade=False)
        self._loyalty_set_acquisition("referral" if referral_code else source)
        return card

    def _loyalty_set_acquisition(self, source):
        """Hook: the acquisition channel of a new member (see the marketing part)."""

    def _loyalty_new_referral_code(self):
        """A short code to share: the first name in Latin letters and the id."""
        self.ensure_one()
        return self._loyalty_referral_code_of(self.name, self.id)

    @api.model
    def _loyalty_referral_code_of(self, name, partner_id):
        first = (name or "").split()[:1]
        letters = "".join(
            TRANSLIT.get(ch, ch) for ch in (first[0].lower() if first else "")
        )
        letters = "".join(ch for ch in letters if "a" <= ch <= "z")[:8].upper()
        return f"{letters or 'M'}{partner_id}"

    @api.model
    def _loyalty_new_member_vals(self, vals, partner_id, consents=()):
        """What ``create`` followed by the stored computes would store for a new
        member who is an individual, on their own (no parent company, company
        name, country, VAT or user): ``vals`` are the questionnaire's values (the
        phone in E.164, as :func:`..tools.normalize_phone` returns it),
        ``consents`` the ``(purpose, channel, consent, date)`` recorded with them.

        For the set-based import (:func:`..tools.bulk_insert`): the stored
        computed fields of base, mail, phone_validation, account's e-invoicing
        and this addon are filled here, once per member, instead of by a
        recompute per field; the card's fields (``loyalty_card_id``,
        ``loyalty_member_since``) are the caller's. A field another module adds
        is left to the ORM's recompute, and the import's equivalence test
        compares every column with a member created through the ORM.
        """
        vals = dict(vals, id=partner_id)
        fields_ = self._fields
        name = vals.get("name") or ""
        email = vals.get("email")
        # the number is in E.164 already (normalized and checked by the caller):
        # what the phone fields' normalizations of it give
        number = vals.get("phone") or vals.get("mobile")
        known = {
            "commercial_partner_id": partner_id,
            "complete_name": name.strip(),
            "email_normalized": email and email_normalize(email, strict=False),
            "phone_sanitized": number,
            "partner_share": True,
            "commercial_company_name": False,
            "company_registry": False,
            "user_id": False,
            "peppol_eas": False,
            "peppol_endpoint": False,
            "loyalty_is_member": True,
            "loyalty_phone": number,
            "loyalty_completeness": self._loyalty_completeness_of(vals),
            "loyalty_marketing_consent": self._loyalty_marketing_consent_of(consents),
            "loyalty_referral_code": self._loyalty_referral_code_of(name, partner_id),
        }
        vals.update(
            (field, value)
            for field, value in known.items()
            if field in fields_ and field not in vals
        )
        return vals

    def _loyalty_grant_referral_bonus(
        self, order_amount, source, coalition_partner=None
    ):
        """Both sides of a referral earn a bonus on the first qualifying purchase."""
        Ledger = self.env["loyalty.ledger"]
        for member in self.filtered("loyalty_referrer_id"):
            program = member.loyalty_card_id.program_id
            if (
                program.currency_id.compare_amounts(
                    order_amount, program.referral_min_amount or 0.0
                )
                < 0
            ):
                continue
            referrer = member.loyalty_referrer_id
            pairs = [
                (member, program.referral_points_new, "new"),
                (referrer, program.referral_points, "referrer"),
            ]
            for partner, points, side in pairs:
                card = partner.loyalty_card_id
                if points > 0 and card and card.loyalty_state in USABLE_STATES:
                    Ledger._post_once(
                        card,
                        points,
                        "bonus",
                        f"referral/{member.id}/{side}",
                        reason=_("Referral of %(member)s", member=member.name),
                        source=source,
                        coalition_partner=coalition_partner,
                    )

    def _loyalty_grant_questionnaire_bonus(self, coalition_partner=None):
        """Questionnaire bonus, once per member, when the questionnaire is complete."""
        Ledger = self.env["loyalty.ledger"]
        for member in self.filtered(lambda p: p.loyalty_completeness >= 100):
            card = member.loyalty_card_id
            if not card or card.loyalty_state not in USABLE_STATES:
                continue
            if card.program_id.questionnaire_points:
                Ledger._post_once(
                    card,
                    card.program_id.questionnaire_points,
                    "bonus",
                    f"res.partner/{member.id}/questionnaire",
                    reason=_("Questionnaire completed"),
                    source=member,
                    coalition_partner=coalition_partner,
                )

    @api.model
    def _cron_birthday_bonus(self):
        """Birthday bonus, once a year per member (daily; a rerun changes nothing)."""
        today = fields.Date.context_today(self)
        days = [(today.month, today.day)]
        if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
            days.append((2, 29))  # born on 29 February: celebrated on the 28th
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT p.id, p.loyalty_card_id, pr.birthday_points, c.company_id
                  FROM res_partner p
                  JOIN loyalty_card c
                    ON c.id = p.loyalty_card_id AND c.loyalty_state IN %s
                  JOIN loyalty_program pr
                    ON pr.id = c.program_id AND pr.birthday_points > 0
                 WHERE p.active AND p.loyalty_birthdate IS NOT NULL
                   AND (EXTRACT(MONTH FROM p.loyalty_birthdate),
                        EXTRACT(DAY FROM p.loyalty_birthdate))
                       IN %s
                   AND NOT EXISTS (
                       SELECT 1 FROM loyalty_ledger l
                        WHERE l.company_id = c.company_id
                          AND l.idempotency_key
                              = 'res.partner/' || p.id || '/birthday/' || %s)
                """,
                USABLE_STATES,
                tuple(days),
                str(today.year),
            )
        )
        Ledger = self.env["loyalty.ledger"]
        Card = self.env["loyalty.card"]
        return Ledger._post_bulk(
            [
                Ledger._entry_vals(
                    Card.browse(card_id),
                    points,
                    "bonus",
                    reason=_("Birthday bonus"),
                    source=self.browse(partner_id),
                    idempotency_key=f"res.partner/{partner_id}/birthday/{today.year}",
                )
                for partner_id, card_id, points, _company_id in rows
            ]
        )

    def _loyalty_adjust(self, points, reason, card=None, coalition_partner=None):
        """A Loyalty Manager's correction of the member's balance (a ledger entry).

        Points added expire under the program's policy, like any other lot."""
        self.ensure_one()
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(_("Only a Loyalty Manager can adjust a bonus balance."))
        if not reason:
            raise UserError(_("Say why the balance is adjusted."))
        card = card or self.loyalty_card_id
        if not card:
            raise UserError(_("%(member)s is not a member.", member=self.display_name))
        return self.env["loyalty.ledger"]._post(
            card,
            points,
            "adjustment",
            reason=reason,
            allow_inactive=True,
            coalition_partner=coalition_partner,
        )

    @api.model
    def _loyalty_lookup(self, term, company=None):
        """Members whose card number or phone (any notation) is ``term``."""
        term = (term or "").strip()
        if not term:
            return self.browse()
        company = company or self.env.company
        cards = self.env["loyalty.card"].search(
            [
                ("code", "=", term),
                ("is_bonus_card", "=", True),
                # a lost or replaced card number no longer identifies anyone
                ("loyalty_state", "not in", ("lost", "replaced")),
                # nor an archived contact's card (as by phone)
                ("partner_id.active", "=", True),
            ],
            limit=1,
        )
        if cards.partner_id:
            return cards.partner_id
        try:
            phone = normalize_phone(term, company.loyalty_phone_region or "RU")
        except ValueError:
            return self.browse()
        return (
            self.search([("loyalty_phone", "=", phone)], limit=1)
            if phone
            else self.browse()
        )

    # ------------------------------------------------------------ tiers
    @api.model
    def _loyalty_tier_spend(self, partners=None):
        """``{partner_id: spend}`` over each program's tier window, from the ledger.

        Spend is the purchase amount recorded on accruals, net of returns.
        """
        self.env.flush_all()
        partner_filter = (
            SQL("AND l.partner_id IN %s", tuple(partners.ids)) if partners else SQL()
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT l.partner_id, SUM(l.amount)
                  FROM loyalty_ledger l
                  JOIN loyalty_program p ON p.id = l.program_id
                 WHERE l.entry_type IN ('accrual', 'reversal')
                   AND l.state <> 'cancelled'
                   AND l.amount <> 0 AND l.partner_id IS NOT NULL
                   AND l.date >= %s::timestamp
                                 - make_interval(months => p.tier_window_months)
                   %s
              GROUP BY l.partner_id
                """,
                fields.Datetime.now(),
                partner_filter,
            )
        )
        return {partner_id: float(spend or 0) for partner_id, spend in rows}

    def _loyalty_update_tiers(self, allow_downgrade=True, spend=None):
        """Put members in the tier their spend reaches; record each change.

        Without downgrades (after a purchase), members already in their
        program's highest tier, or in a program without tiers, can't change:
        their spend is not even read."""
        members = []  # (partner, tiers of the program by spend, current tier's spend)
        for partner in self.filtered("loyalty_card_id"):
            tiers = partner.loyalty_card_id.program_id._loyalty_earning_settings()[1]
            current = partner.loyalty_tier_id
            current_spend = next(
                (t_spend for t_id, t_spend, _m in tiers if t_id == current.id), None
            )
            if current and current_spend is None:  # a tier of another program
                current_spend = current.min_spend
            if not allow_downgrade and not any(
                current_spend is None or t_spend > current_spend
                for _t, t_spend, _m in tiers
            ):
                continue
            members.append((partner, tiers, current_spend))
        if spend is None and members:
            spend = self._loyalty_tier_spend(self.browse([p.id for p, *_x in members]))
        History = self.env["loyalty.tier.history"].sudo()
        changes = []
        for partner, tiers, current_spend in members:
            amount = spend.get(partner.id, 0.0)
            reached = [
                (t_id, t_spend) for t_id, t_spend, _m in tiers if t_spend <= amount
            ]
            target_id, target_spend = reached[-1] if reached else (False, None)
            current = partner.loyalty_tier_id
            if target_id == current.id:
                continue
            up = (
                target_spend > current_spend
                if target_id and current
                else bool(target_id)
            )
            if not up and not allow_downgrade:
                continue
            changes.append(
                {
                    "partner_id": partner.id,
                    "old_tier_id": current.id,
                    "new_tier_id": target_id,
                    "spend": amount,
                    "direction": "up" if up else "down",
                }
            )
        self._loyalty_set_tiers(changes)
        return History.create(changes)

    def _loyalty_set_tiers(self, changes):
        """Write the tier changes (``loyalty.tier.history`` values): one write
        per new tier, and the chatter's tracking of each member as Odoo's
        tracking would log it (a note with the old and new tier), created in
        one batch instead of a message per member and per query (Odoo's
        ``_message_log_batch`` takes no tracking values for several records:
        they are created after it, in one insert too)."""
        if not changes:
            return
        Partner = self.sudo().with_context(tracking_disable=True)
        by_tier = {}
        for change in changes:
            by_tier.setdefault(change["new_tier_id"], []).append(change["partner_id"])
        for tier_id, partner_ids in by_tier.items():
            Partner.browse(partner_ids).write({"loyalty_tier_id": tier_id})
        col_info = self.fields_get(
            ["loyalty_tier_id"],
            attributes=("string", "type", "selection", "currency_field"),
        )["loyalty_tier_id"]
        Tracking = self.env["mail.tracking.value"]
        Tier = self.env["loyalty.tier"].sudo()
        partners = Partner.browse([change["partner_id"] for change in changes])
        # Odoo's batch log: the note tracking writes, one insert for the batch
        messages = partners._message_log_batch({})
        # the tracking values in one insert (as lines of each message, the ORM
        # would insert them one message at a time)
        Tracking.sudo().create(
            [
                dict(
                    Tracking._create_tracking_values(
                        Tier.browse(change["old_tier_id"]),
                        Tier.browse(change["new_tier_id"]),
                        "loyalty_tier_id",
                        col_info,
                        partner,
                    ),
                    mail_message_id=message.id,
                )
                for change, partner, message in zip(
                    changes, partners, messages, strict=True
                )
            ]
        )

    @api.model
    def _cron_recompute_tiers(self, batch_size=1000):
        """Nightly: upgrades and downgrades over the rolling window.

        Members are handled per batch (their spend too), the ORM cache emptied
        after each, so that the job's memory stays flat whatever the size of the
        base.
        """
        member_ids = self._search(
            [
                ("loyalty_is_member", "=", True),
                ("loyalty_card_id.program_id.tier_ids", "!=", False),
            ]
        ).get_result_ids()
        history_ids = []
        for start in range(0, len(member_ids), batch_size):
            batch = self.browse(member_ids[start : start + batch_size])
            history_ids += batch._loyalty_update_tiers().ids
            # the batch's tier changes are tracked (chatter) now, not all at the
            # end: what the tracking keeps until then does not grow with the base
            self.env.cr.flush()
            if self.env.context.get("loyalty_cron_commit"):
                # one transaction per batch: no lock held on every member at once
                self.env.cr.commit()  # pylint: disable=invalid-commit
            self.env.invalidate_all()
        return self.env["loyalty.tier.history"].sudo().browse(history_ids)

    # ------------------------------------------------------------ actions
    def action_loyalty_enrol(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Enrol in the Bonus Program"),
            "res_model": "loyalty.enrol.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.id},
        }

    def action_loyalty_open_card(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "loyalty.card",
            "res_id": self.loyalty_card_id.id,
            "view_mode": "form",
            "views": [
                (self.env.ref("loyalty_crm.loyalty_card_view_form_member").id, "form")
            ],
        }

    def action_loyalty_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "loyalty_crm.loyalty_ledger_action"
        )
        chain = self.loyalty_card_ids.filtered("is_bonus_card")
        action["domain"] = [("card_id", "in", chain.ids)]
        action["context"] = {"search_default_counted": 0}
        return action

    def action_loyalty_adjust(self):
        """A signed change and a reason (never a new balance to type over)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Adjust the Balance"),
            "res_model": "loyalty.adjust.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }

    def action_loyalty_record_consent(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Record Consent"),
            "res_model": "loyalty.consent.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.id},
        }
