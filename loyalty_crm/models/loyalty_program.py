from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class LoyaltyProgram(models.Model):
    _inherit = "loyalty.program"

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
        string="Card Activation",
        default="registration",
        required=True,
        help="At registration: the card works at once. At first purchase: the "
        "card is issued inactive and activated by the member's first order.",
    )
    member_count = fields.Integer(compute="_compute_member_count")

    _sql_constraints = [
        (
            "card_issue_min_amount_positive",
            "CHECK (card_issue_min_amount IS NULL OR card_issue_min_amount >= 0)",
            "The minimum purchase for a card cannot be negative.",
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
