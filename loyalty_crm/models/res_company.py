from odoo import Command, api, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    loyalty_bonus_program_id = fields.Many2one(
        "loyalty.program",
        string="Bonus Program",
        domain="[('is_bonus_program', '=', True), ('company_id', 'in', [id, False])]",
        help="The bonus program members of this company join at enrolment.",
    )
    loyalty_phone_region = fields.Char(
        string="Default Phone Region",
        size=2,
        default="RU",
        help="Country (ISO code) assumed for phone numbers written without a "
        "country prefix, e.g. 8 999 123-45-67.",
    )
    loyalty_required_field_ids = fields.Many2many(
        "ir.model.fields",
        "res_company_loyalty_required_field_rel",
        string="Required at Enrolment",
        domain="[('model', '=', 'res.partner'), "
        "('name', 'in', ['email', 'loyalty_birthdate', 'loyalty_gender', "
        "'loyalty_marital_status', 'loyalty_employment', 'city', "
        "'loyalty_home_store_id', 'loyalty_interest_ids', 'loyalty_source_id'])]",
        help="Questionnaire fields a new member must fill in (name and phone "
        "are always required).",
    )

    def _loyalty_bonus_program_values(self):
        self.ensure_one()
        return {
            "name": self.env._("Bonus Program"),
            "program_type": "loyalty",
            "is_bonus_program": True,
            "applies_on": "both",
            "trigger": "auto",
            "company_id": self.id,
            "currency_id": self.currency_id.id,
            "portal_visible": True,
            "portal_point_name": self.env._("Bonuses"),
            # Our ledger decides points: Odoo's own sale/POS flows stay out.
            "sale_ok": False,
            "pos_ok": False,
            "reward_ids": [Command.create(self._loyalty_bonus_reward_values())],
        }

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies._loyalty_ensure_bonus_program()
        return companies

    @api.model
    def _loyalty_ensure_bonus_programs(self):
        """Called by data at install and update: every company gets its program.

        The main company's program is also known as
        ``loyalty_crm.loyalty_program_bonus_main`` (for demo data and tests).
        """
        self.sudo().search([])._loyalty_ensure_bonus_program()
        main = self.env.ref("base.main_company", raise_if_not_found=False)
        if main and not self.env.ref(
            "loyalty_crm.loyalty_program_bonus_main", raise_if_not_found=False
        ):
            self.env["ir.model.data"]._update_xmlids(
                [
                    {
                        "xml_id": "loyalty_crm.loyalty_program_bonus_main",
                        "record": main.sudo().loyalty_bonus_program_id,
                        "noupdate": True,
                    }
                ]
            )

    def _loyalty_ensure_bonus_program(self):
        Program = self.env["loyalty.program"]
        for company in self.filtered(lambda c: not c.loyalty_bonus_program_id):
            program = Program._get_bonus_program(company)
            # Odoo fills a new loyalty program with its default rule and reward;
            # the bonus program earns 5 % by default and spends points as a
            # discount worth the point value.
            program.write(
                {
                    "rule_ids": [
                        Command.clear(),
                        Command.create(company._loyalty_bonus_rule_values()),
                    ],
                    "reward_ids": [
                        Command.clear(),
                        Command.create(company._loyalty_bonus_reward_values()),
                    ],
                }
            )

    def _loyalty_bonus_rule_values(self):
        # 5 points per 100 spent: a 5 % bonus with a point worth 1.
        return {
            "reward_point_mode": "money",
            "reward_point_amount": 0.05,
            "minimum_qty": 0,
        }

    def _loyalty_bonus_reward_values(self):
        return {
            "reward_type": "discount",
            "discount_mode": "per_point",
            "discount": 1.0,
            "required_points": 1,
            "discount_applicability": "order",
        }

    # campaigns: frequency cap and quiet hours
    loyalty_campaign_cap = fields.Integer(
        string="Messages per Member",
        default=3,
        help="At most this many campaign messages per member over the cap "
        "period; further messages are skipped (0: no cap).",
    )
    loyalty_campaign_cap_days = fields.Integer(string="Cap Period (Days)", default=7)
    loyalty_quiet_start = fields.Integer(
        string="Quiet Hours From",
        default=21,
        help="No SMS from this hour of the member's local time ...",
    )
    loyalty_quiet_end = fields.Integer(
        string="Quiet Hours To",
        default=9,
        help="... until this hour: SMS due at night are postponed to the morning.",
    )
