from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import date_utils


class LoyaltyProgram(models.Model):
    _name = "loyalty.program"
    _inherit = ["loyalty.program", "loyalty.earning.cache.mixin"]

    is_bonus_program = fields.Boolean(
        string="Bonus Program",
        help="Member cards of this program carry a points balance kept by the "
        "loyalty ledger: points change only through ledger entries.",
    )
    card_issue_mode = fields.Selection(
        [
            ("enrolment", "On enrolment"),
            ("purchase", "On a purchase over an amount"),
            ("gift", "As a promotional gift"),
            ("product", "Sold as a product"),
        ],
        string="Card Issued",
        default="enrolment",
        required=True,
        help="When a customer receives a member card of this program.",
    )
    card_issue_min_amount = fields.Monetary(
        string="Minimum Purchase for a Card",
        currency_field="currency_id",
        help="A customer buying at least this amount (tax included) is enrolled "
        "and receives a card.",
    )
    card_product_id = fields.Many2one(
        "product.product",
        string="Card Product",
        help="Selling this product on a confirmed order issues a member card.",
    )
    card_activation = fields.Selection(
        [
            ("registration", "At registration"),
            ("first_purchase", "At first purchase"),
        ],
        default="registration",
        required=True,
        help="At registration: the card works at once. At first purchase: the "
        "card is issued inactive and activated by the member's first order.",
    )
    member_count = fields.Integer(compute="_compute_member_count")
    # ------------------------------------------------------------ earning
    earn_tax_included = fields.Boolean(
        string="Earn on Tax-Included Amounts",
        default=True,
        help="Points per currency unit are computed on amounts with taxes "
        "(otherwise without).",
    )
    accrual_trigger = fields.Selection(
        [
            ("confirm", "When the sale order is confirmed"),
            ("paid", "When the invoice is paid"),
        ],
        string="Sales Accrual",
        default="confirm",
        required=True,
    )
    pending_days = fields.Integer(
        string="Pending Period (days)",
        default=0,
        help="Points earned by a purchase stay pending this many days (the return "
        "window) before they can be spent. 0: available at once.",
    )
    points_lifetime = fields.Selection(
        [
            ("none", "Never expire"),
            ("days", "After a number of days"),
            ("end_of_month", "At the end of the month, after a number of days"),
        ],
        string="Points Expire",
        default="days",
        required=True,
    )
    points_lifetime_days = fields.Integer(
        string="Points Lifetime (days)",
        default=365,
        help="How long earned points live before they expire.",
    )
    welcome_points = fields.Float(string="Welcome Bonus", digits=(16, 2))
    referral_points = fields.Float(
        string="Referral Bonus (Referrer)",
        digits=(16, 2),
        help="Points for the member who invited a friend, once the friend makes a "
        "first qualifying purchase.",
    )
    referral_points_new = fields.Float(
        string="Referral Bonus (New Member)",
        digits=(16, 2),
        help="Points for the invited friend after their first qualifying purchase.",
    )
    referral_min_amount = fields.Monetary(
        string="Qualifying Purchase",
        currency_field="currency_id",
        help="The invited friend's first purchase must reach this amount.",
    )
    questionnaire_points = fields.Float(
        string="Questionnaire Bonus",
        digits=(16, 2),
        help="Points given once, when a member's questionnaire is complete.",
    )
    birthday_points = fields.Float(
        string="Birthday Bonus",
        digits=(16, 2),
        help="Points given on the member's birthday.",
    )
    # ------------------------------------------------------------ tiers
    tier_ids = fields.One2many("loyalty.tier", "program_id", string="Tiers")
    tier_window_months = fields.Integer(
        string="Tier Window (months)",
        default=12,
        help="Tiers are reached by what a member spent over this many past months.",
    )
    # ------------------------------------------------------------ spending
    point_value = fields.Float(
        string="Value of a Point",
        digits=(16, 4),
        default=1.0,
        help="What one point is worth in the program's currency when spent.",
    )
    max_redeem_share = fields.Float(
        string="Maximum Share Paid with Points (%)",
        default=30.0,
        help="Points pay at most this share of an order.",
    )
    min_balance_to_spend = fields.Float(
        string="Minimum Balance to Spend",
        digits=(16, 2),
        help="A member starts spending points once the balance reaches this number.",
    )
    spend_otp = fields.Boolean(
        string="Spending by Phone Needs an SMS Code",
        default=True,
        help="When the member is found by phone number (no card scanned, or the "
        "API is given the phone), spending points needs the one-time code sent by "
        "SMS to that phone. Earning never does.",
    )

    # ------------------------------------------------------------ payback inputs
    roi_setup_cost = fields.Monetary(
        string="Set-up Cost",
        currency_field="currency_id",
        help="What launching the program cost (software, integration, cards, "
        "training): the investment to pay back.",
    )
    roi_monthly_cost = fields.Monetary(
        string="Monthly Running Cost",
        currency_field="currency_id",
        help="Support, software and marketing of the program per month, without "
        "the points themselves (their cost is measured from the ledger).",
    )
    roi_margin = fields.Float(
        string="Gross Margin (%)",
        default=100.0,
        help="Share of the extra revenue of members that is profit. 100 counts the "
        "extra revenue in full (the usual quick estimate); your gross margin gives "
        "a prudent one.",
    )

    _sql_constraints = [
        (
            "card_issue_min_amount_positive",
            "CHECK (card_issue_min_amount IS NULL OR card_issue_min_amount >= 0)",
            "The minimum purchase for a card cannot be negative.",
        ),
        (
            "bonus_settings_positive",
            "CHECK (COALESCE(pending_days, 0) >= 0 AND "
            "COALESCE(points_lifetime_days, 0) >= 0"
            " AND COALESCE(welcome_points, 0) >= 0 AND "
            "COALESCE(questionnaire_points, 0) >= 0"
            " AND COALESCE(birthday_points, 0) >= 0 AND "
            "COALESCE(min_balance_to_spend, 0) >= 0)",
            "Bonus amounts, periods and minimum balance cannot be negative.",
        ),
        (
            "point_value_positive",
            "CHECK (point_value IS NULL OR point_value > 0)",
            "A point must be worth more than nothing.",
        ),
        (
            "max_redeem_share_range",
            "CHECK (max_redeem_share IS NULL OR (max_redeem_share >= 0 AND "
            "max_redeem_share <= 100))",
            "The share of an order paid with points is between 0 and 100 %.",
        ),
        (
            "roi_inputs_positive",
            "CHECK (COALESCE(roi_setup_cost, 0) >= 0 AND "
            "COALESCE(roi_monthly_cost, 0) >= 0 AND "
            "COALESCE(roi_margin, 0) >= 0 AND COALESCE(roi_margin, 0) <= 100)",
            "Costs cannot be negative and the margin is between 0 and 100 %.",
        ),
    ]

    def _compute_member_count(self):
        groups = self.env["loyalty.card"]._read_group(
            [
                ("program_id", "in", self.ids),
                ("partner_id", "!=", False),
                ("loyalty_state", "in", ("issued", "active")),
            ],
            ["program_id"],
            ["partner_id:count_distinct"],
        )
        counts = {program.id: count for program, count in groups}
        for program in self:
            program.member_count = counts.get(program.id, 0)

    @api.constrains("is_bonus_program", "card_issue_mode", "card_product_id")
    def _check_card_issue(self):
        for program in self.filtered("is_bonus_program"):
            if program.card_issue_mode == "product" and not program.card_product_id:
                raise ValidationError(
                    _(
                        "Program %(program)s issues cards sold as a product: "
                        "choose the card product.",
                        program=program.name,
                    )
                )
            if program.program_type != "loyalty":
                raise ValidationError(
                    _("A bonus program must be of type Loyalty Cards.")
                )

    # ------------------------------------------------------------ who configures
    @api.model
    def _loyalty_check_config_access(self, bonus):
        """Only Loyalty Managers configure a bonus program, its rules and rewards.

        Odoo's pos_loyalty and sale_loyalty let POS and Sales managers write
        every loyalty program: for a bonus program (``bonus`` true) this is
        refused to anyone but a Loyalty Manager.
        """
        if (
            bonus
            and not self.env.su
            and not self.env.user.has_group("loyalty_crm.group_loyalty_manager")
        ):
            raise AccessError(
                _(
                    "Only a Loyalty Manager can change the bonus program, its "
                    "earning rules and its rewards."
                )
            )

    @api.model
    def _loyalty_is_bonus_vals(self, vals):
        """Whether ``vals`` (of a rule or reward) put it in a bonus program."""
        program_id = vals.get("program_id")
        return bool(
            program_id and self.sudo().browse(program_id).exists().is_bonus_program
        )

    @api.model_create_multi
    def create(self, vals_list):
        self._loyalty_check_config_access(
            any(vals.get("is_bonus_program") for vals in vals_list)
        )
        return super().create(vals_list)

    def write(self, vals):
        self._loyalty_check_config_access(
            bool(vals.get("is_bonus_program"))
            or any(self.sudo().mapped("is_bonus_program"))
        )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_bonus_program_by_others(self):
        self._loyalty_check_config_access(any(self.sudo().mapped("is_bonus_program")))

    @api.model
    def _get_bonus_program(self, company=None):
        """The company's bonus program, created on first use for new companies."""
        company = company or self.env.company
        program = company.sudo().loyalty_bonus_program_id
        if program:
            return program
        program = (
            self.sudo()
            .with_company(company)
            .create(company._loyalty_bonus_program_values())
        )
        company.sudo().loyalty_bonus_program_id = program
        return program

    # ------------------------------------------------------------ cached rules
    @tools.ormcache("self.id")
    def _loyalty_earning_settings(self):
        """The program's active earning rules and its tiers, as plain values
        kept per process: every purchase reads them, a manager seldom changes
        them. Writing a program, a rule or a tier clears the cache
        (``loyalty.earning.cache.mixin``), on every server (Odoo's cache
        signaling). Returns ``(rules, tiers)``:

        - ``rules``: ``(product domain, minimum amount, minimum quantity, mode,
          points)`` per active rule, the domain empty for a general rule;
        - ``tiers``: ``(tier id, spend to reach, multiplier)`` by spend.
        """
        self.ensure_one()
        program = self.sudo().with_context(active_test=True)
        rules = tuple(
            (
                tuple(rule._get_valid_product_domain()),
                rule.minimum_amount,
                rule.minimum_qty,
                rule.reward_point_mode,
                rule.reward_point_amount,
            )
            for rule in program.rule_ids.filtered("active")
        )
        tiers = tuple(
            (tier.id, tier.min_spend, tier.multiplier)
            for tier in program.tier_ids.sorted("min_spend")
        )
        return rules, tiers

    @tools.ormcache("self.id", "self.env.lang")
    def _loyalty_tier_names(self):
        """``((tier id, name), ...)`` of the program's tiers in the language of
        the environment, kept like :meth:`_loyalty_earning_settings`."""
        self.ensure_one()
        return tuple((tier.id, tier.name) for tier in self.sudo().tier_ids)

    def _loyalty_tier_info(self, tier):
        """``(name, multiplier)`` of ``tier`` (a member's tier in this program)
        without reading it."""
        self.ensure_one()
        name = dict(self._loyalty_tier_names()).get(tier.id)
        if name is None:
            return tier.name, tier.multiplier
        return name, self._loyalty_tier_multiplier(tier)

    def _loyalty_tier_multiplier(self, tier):
        """The earn multiplier of ``tier`` (a member's tier in this program)."""
        self.ensure_one()
        for tier_id, _spend, multiplier in self._loyalty_earning_settings()[1]:
            if tier_id == tier.id:
                return multiplier or 1.0
        return tier.multiplier or 1.0

    # ------------------------------------------------------------ rules engine
    def _loyalty_discount_reward(self):
        """The reward that pays an order with points (its product is the points
        discount line, at the till and on quotations)."""
        return self.reward_ids.filtered(lambda r: r.reward_type == "discount")[:1]

    def _loyalty_discount_product(self):
        return self._loyalty_discount_reward().discount_line_product_id

    def _loyalty_expiry_date(self, when=None):
        """Expiry date of points earned on ``when`` (a date), or False."""
        self.ensure_one()
        when = when or fields.Date.context_today(self)
        if self.points_lifetime == "none" or not self.points_lifetime_days:
            return False
        expiry = when + relativedelta(days=self.points_lifetime_days)
        if self.points_lifetime == "end_of_month":
            expiry = date_utils.end_of(expiry, "month")
        return expiry

    def _loyalty_compute_points(self, lines, multiplier=1.0):
        """Points earned by a purchase, from the program's earning rules.

        ``lines`` is a list of ``(product, quantity, amount)`` where ``amount`` is
        what the customer paid for the line in money (tax included or not, as the
        program says, and after any part paid with points). Reward lines must not
        be passed. Rules (Odoo's loyalty rules of the program) add up:
        per currency unit, per unit, or per order above a minimum (threshold bonus);
        product/category rules act as multipliers on top of the general rule.
        """
        self.ensure_one()
        if not lines:
            return 0.0
        total_amount = sum(amount for _product, _qty, amount in lines)
        total_qty = sum(qty for _product, qty, _amount in lines)
        products = self.env["product.product"].union(
            *(product for product, _q, _a in lines)
        )
        points = 0.0
        rules = self._loyalty_earning_settings()[0]
        for domain, minimum_amount, minimum_qty, mode, reward in rules:
            if domain:
                matching = products.filtered_domain(list(domain))
                ours = [(q, a) for p, q, a in lines if p and p in matching]
            else:  # a general rule: every line, products known or not
                ours = [(q, a) for _p, q, a in lines]
            amount = sum(a for _q, a in ours)
            qty = sum(q for q, _a in ours)
            if (
                minimum_amount
                and self.currency_id.compare_amounts(total_amount, minimum_amount) < 0
            ):
                continue
            if minimum_qty and total_qty < minimum_qty:
                continue
            if mode == "money":
                points += amount * reward
            elif mode == "unit":
                points += qty * reward
            elif qty > 0:  # per order
                points += reward
        return max(round(points * (multiplier or 1.0), 2), 0.0)

    # ------------------------------------------------------------ POS
    @api.model
    def _load_pos_data_domain(self, data):
        # Odoo's pos_loyalty runs a program's points in the browser: never the
        # bonus program's (members are looked up on demand, points are the
        # server's), whatever its Point of Sale setting says
        return [*super()._load_pos_data_domain(data), ("is_bonus_program", "=", False)]
