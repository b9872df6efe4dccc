import logging

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


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
        self._loyalty_name_points_discount()
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

    @api.model
    def _loyalty_name_points_discount(self):
        """The points discount reads "Paid with points" on the till, the order
        and the receipt (in every installed language), not Odoo's generated
        "$ 1 per point on your order"."""
        rewards = (
            self.env["loyalty.program"]
            .sudo()
            .search([("is_bonus_program", "=", True)])
            .reward_ids.filtered(lambda r: r.reward_type == "discount")
        )
        if not rewards:
            return
        for code, _name in self.env["res.lang"].get_installed():
            env = self.with_context(lang=code).env
            label = env._("Paid with points")
            for reward in rewards.with_env(env):
                if reward.description != label:
                    reward.description = label

    def _loyalty_bonus_reward_values(self):
        return {
            "reward_type": "discount",
            "description": self.env._("Paid with points"),
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

    # demo
    @api.model
    def _loyalty_demo_one_point_system(self):
        """Demo: one point system on every screen. Odoo's own demo programs (a
        "Loyalty Program" in the till and in Sales, coupons, promotions) are
        archived, and the till sells the retailer's catalogue only, not Odoo's
        demo furniture and bakery (the products made later by the demo are
        put on the till by it)."""
        self.env["loyalty.program"].search(
            [("is_bonus_program", "=", False)]
        ).action_archive()
        on_till = self.env["product.template"].search([("available_in_pos", "=", True)])
        # Odoo's demo combos (chairs, burgers) go, with their items: a product
        # can't leave the till while a combo includes it
        combos = on_till.filtered(lambda t: t.type == "combo")
        combos.write({"available_in_pos": False, "active": False})
        self.env["product.combo.item"].search(
            [("product_id.product_tmpl_id", "in", on_till.ids)]
        ).unlink()
        (on_till - combos).available_in_pos = False
        return True

    @api.model
    def _loyalty_demo_till_catalogue(self):
        """Demo: the tills sell the retailer's catalogue, by its categories
        (Платья, Обувь...), and nothing else."""
        parent = self.env["product.category"].search(
            [("name", "=", "Одежда и обувь")], limit=1
        )
        PosCategory = self.env["pos.category"]
        till_categories = PosCategory
        for categ in self.env["product.category"].search(
            [("parent_id", "=", parent.id)], order="id"
        ):
            till_category = PosCategory.create({"name": categ.name})
            self.env["product.template"].search(
                [("categ_id", "=", categ.id), ("available_in_pos", "=", True)]
            ).pos_categ_ids = till_category
            till_categories |= till_category
        xml_products = self.env["product.template"].search(
            [("available_in_pos", "=", True), ("pos_categ_ids", "=", False)]
        )
        if xml_products:
            new = PosCategory.create({"name": "Новая коллекция"})
            xml_products.pos_categ_ids = new
            till_categories |= new
        # (a till with an open session keeps its settings: Odoo refuses them)
        self.env["pos.config"].search([]).filtered(
            lambda config: not config.session_ids.filtered(
                lambda session: session.state != "closed"
            )
        ).write(
            {
                "limit_categories": True,
                "iface_available_categ_ids": [Command.set(till_categories.ids)],
            }
        )
        return True

    def _loyalty_demo_company(self):
        """The demo company is a Russian clothing retailer: its name, Moscow
        address, time zone, roubles when the books allow it, Russian for its
        people when Russian is installed, and a member who uses the portal.
        Odoo's second demo company ("My Company (Chicago)", from stock) becomes
        its Saint Petersburg sister company."""
        self.ensure_one()
        russia = self.env.ref("base.ru", raise_if_not_found=False)
        self.write(
            {
                "name": "ООО «Стиль»",
                "street": "ул. Тверская, 12",
                "city": "Москва",
                "zip": "125009",
                "state_id": self.env.ref("base.state_ru_mow").id if russia else False,
                "country_id": russia.id if russia else False,
                "phone": "+7 495 123-45-67",
                "email": "info@stil.example.com",
                "website": "https://stil.example.com",
            }
        )
        sister = self.env.ref("stock.res_company_1", raise_if_not_found=False)
        if sister and russia:
            sister.write(
                {
                    "name": "ООО «Стиль Северо-Запад»",
                    "street": "Невский пр., 28",
                    "city": "Санкт-Петербург",
                    "zip": "191186",
                    "state_id": self.env.ref("base.state_ru_spe").id,
                    "country_id": russia.id,
                    "phone": "+7 812 123-45-67",
                    "email": "spb@stil.example.com",
                }
            )
        companies = self | sister if sister else self
        companies.partner_id.tz = "Europe/Moscow"
        # a warehouse is named after its company when the company is made
        for warehouse in self.env["stock.warehouse"].search(
            [("company_id", "in", companies.ids)]
        ):
            warehouse.name = warehouse.company_id.name
        rub = self.env.ref("base.RUB", raise_if_not_found=False)
        if rub:
            rub.sudo().active = True
            for company in companies.filtered(lambda c: c.currency_id != rub):
                try:
                    with self.env.cr.savepoint():
                        company.currency_id = rub
                except UserError as error:
                    # Odoo's demo accounting is already booked in another
                    # currency: scripts/demo_company.py prevents it
                    _logger.warning(
                        "Demo: %s keeps its currency (%s)", company.name, error
                    )
            in_roubles = companies.filtered(lambda c: c.currency_id == rub)
            self.env["product.pricelist"].search(
                [("company_id", "in", [False, *in_roubles.ids])]
            ).currency_id = rub
            in_roubles.loyalty_bonus_program_id.currency_id = rub
        # the administrator, who also works the till in the demo
        self.env.ref("base.partner_admin").name = "Елена Соколова"
        russian = self.env["res.lang"]._lang_get("ru_RU")
        if russian and russian.active:
            (self.partner_id | self.env.ref("base.partner_admin")).lang = "ru_RU"
        anna = self.env.ref("loyalty_crm.demo_member_anna", False)
        if anna:
            if russian and russian.active:
                anna.lang = "ru_RU"
            if not anna.user_ids:
                self.env["res.users"].with_context(no_reset_password=True).create(
                    {
                        "login": "anna",
                        "password": "anna",
                        "partner_id": anna.id,
                        "company_id": self.id,
                        "company_ids": [Command.set(self.ids)],
                        "groups_id": [
                            Command.set([self.env.ref("base.group_portal").id])
                        ],
                    }
                )
        return True

    @api.model
    def _loyalty_name_acquisition_sources(self):
        """Our UTM sources and medium, and Odoo's sources offered at enrolment,
        in the language of the database's main user (``utm.source.name`` is not
        translatable): a Russian retailer's
        reports say "Магазин (касса)", not "Shop (POS)". Only names still at
        their English default are renamed, so a user's own names stay."""
        admin = self.env.ref("base.user_admin", raise_if_not_found=False)
        lang = admin.lang if admin else None
        if not lang or lang == "en_US":
            return
        env = self.with_context(lang=lang).env
        names = {
            # Odoo's sources offered at enrolment
            "utm.utm_source_search_engine": ("Search engine", env._("Search engine")),
            "utm.utm_source_newsletter": ("Newsletter", env._("Newsletter")),
            "utm_source_backoffice": ("Back office", env._("Back office")),
            "utm_source_store": ("Shop (POS)", env._("Shop (POS)")),
            "utm_source_portal": ("Website (portal)", env._("Website (portal)")),
            "utm_source_api": ("Partner API", env._("Partner API")),
            "utm_source_import": ("Import", env._("Import")),
            "utm_source_referral": ("Referral", env._("Referral")),
            "utm_medium_referral": ("Referral", env._("Referral")),
            "utm_source_loyalty_campaign": (
                "Loyalty campaign",
                env._("Loyalty campaign"),
            ),
        }
        for xmlid, (default, name) in names.items():
            if "." not in xmlid:
                xmlid = f"loyalty_crm.{xmlid}"
            record = self.env.ref(xmlid, raise_if_not_found=False)
            if record and record.name == default and name != default:
                record.sudo().name = name
