"""Who may touch what, tried over real XML-RPC as each role a shop has.

Odoo's pos_loyalty and sale_loyalty give cashiers, salespeople and their
managers write access to every loyalty card and (managers) to every loyalty
program: each attack below is what such a user could do with a plain
``execute_kw`` on a database without loyalty_crm's guards.
"""

import contextlib
from datetime import timedelta
from unittest.mock import patch
from xmlrpc.client import Fault

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_ACCESS_ERROR

ROLES = {
    "lc_acl_cashier": "point_of_sale.group_pos_user",
    "lc_acl_salesman": "sales_team.group_sale_salesman",
    "lc_acl_pos_manager": "point_of_sale.group_pos_manager",
    "lc_acl_sale_manager": "sales_team.group_sale_manager",
    "lc_acl_loyalty_user": "base.group_user,loyalty_crm.group_loyalty_user",
    "lc_acl_loyalty_manager": "base.group_user,loyalty_crm.group_loyalty_manager",
}
NOT_LOYALTY_MANAGERS = [login for login in ROLES if login != "lc_acl_loyalty_manager"]
# users who are none of the shop's loyalty roles at all
OUTSIDERS = {
    "lc_acl_marketer": "mass_mailing.group_mass_mailing_user",
    "lc_acl_internal": "base.group_user",
    "lc_acl_portal": "base.group_portal",
}


@tagged("post_install", "-at_install")
class TestAccessRpc(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.company
        company.loyalty_phone_region = "RU"
        company.loyalty_required_field_ids = False
        cls.users = {
            login: new_test_user(cls.env, login, groups=groups)
            for login, groups in (ROLES | OUTSIDERS).items()
        }
        cls.program = cls.env["loyalty.program"]._get_bonus_program(company)
        Partner = cls.env["res.partner"]
        cls.member = Partner.create({"name": "Жертва", "phone": "+79161110001"})
        cls.card = cls.member._loyalty_enrol()
        cls.env["loyalty.ledger"]._post(cls.card, 300, "bonus", reason="opening")
        cls.accomplice = Partner.create({"name": "Сообщник", "phone": "+79161110002"})
        cls.blocked_member = Partner.create(
            {"name": "Заблокирован", "phone": "+79161110003"}
        )
        cls.blocked = cls.blocked_member._loyalty_enrol()
        cls.blocked.action_loyalty_block(reason="Подозрение на мошенничество")
        cls.coupons = cls.env["loyalty.program"].create(
            {"name": "Купоны", "program_type": "coupons"}
        )
        cls.coupon = cls.env["loyalty.card"].create(
            {"program_id": cls.coupons.id, "partner_id": cls.accomplice.id}
        )

    # ------------------------------------------------------------ helpers
    def rpc(self, login, model, method, *args, **kwargs):
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, login, {})
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, login, model, method, list(args), kwargs
        )

    def assertRefused(self, login, model, method, *args, **kwargs):
        with self.assertRaises(Fault, msg=f"{login} {model}.{method}{args}") as caught:
            self.rpc(login, model, method, *args, **kwargs)
        self.assertEqual(
            caught.exception.faultCode, RPC_FAULT_CODE_ACCESS_ERROR, caught.exception
        )

    def card_state(self, card):
        card.invalidate_recordset()
        return (
            card.partner_id,
            card.program_id,
            card.code,
            card.loyalty_state,
            card.loyalty_state_reason,
            card.points,
            card.active,
        )

    # ------------------------------------------------------------ the API
    def test_no_role_calls_the_api_operations_over_rpc(self):
        """The HTTP API's operations run behind its key check only: over RPC
        (any logged-in user, a program of their choice in the context) every
        method loyalty_crm defines on ``loyalty.api`` is refused, and asking
        a member's SMS code that way sends nothing."""
        Api = type(self.env["loyalty.api"])
        names = {
            name
            for cls in Api.mro()
            if cls.__module__.startswith("odoo.addons.loyalty_crm")
            for name, value in vars(cls).items()
            if not name.startswith("_") and callable(value)
        }
        self.assertIn("request_otp", names)
        self.assertIn("accrue", names)
        context = {"loyalty_api_program_id": self.program.id}
        otps = self.env["loyalty.otp"].search_count([])
        for login in ("lc_acl_cashier", "lc_acl_loyalty_manager"):
            for name in sorted(names):
                with self.subTest(login=login, method=name):
                    self.assertRefused(
                        login,
                        "loyalty.api",
                        name,
                        [],
                        {"phone": self.member.phone, "card": self.card.code},
                        context=context,
                    )
        self.assertEqual(self.env["loyalty.otp"].search_count([]), otps)

    def test_odoos_update_balance_is_refused_to_all_but_loyalty_managers(self):
        """Odoo's own "Update Balance" wizard on a bonus card, over XML-RPC:
        every role but the Loyalty Manager is refused (creating the wizard or
        applying it) and the balance does not move."""
        before = self.card_state(self.card)
        for login in NOT_LOYALTY_MANAGERS:
            with self.subTest(login=login):
                values = {
                    "card_id": self.card.id,
                    "new_balance": 5000,
                    "description": "подарок сообщнику",
                }
                try:
                    wizard_id = self.rpc(
                        login, "loyalty.card.update.balance", "create", values
                    )
                except Fault as error:
                    self.assertEqual(error.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)
                    continue
                self.assertRefused(
                    login,
                    "loyalty.card.update.balance",
                    "action_update_card_point",
                    [wizard_id],
                )
        self.assertEqual(self.card_state(self.card), before)

    # ------------------------------------------------------------ manager actions
    def test_only_managers_launch_stop_campaigns_and_resolve_exceptions(self):
        """Launching a campaign (its button, its confirmation wizard, or the
        method itself), stopping one, resolving a loyalty exception: over
        XML-RPC, every role but the Loyalty Manager is refused, and nothing
        changes: no state, no mailing, no message, no ledger entry."""
        Campaign = self.env["loyalty.campaign"]
        draft = Campaign.create(
            {
                "name": "Распродажа",
                "channel": "sms",
                "launch_type": "oneoff",
                "sms_template_id": self.env.ref(
                    "loyalty_crm.sms_template_campaign_oneoff"
                ).id,
            }
        )
        running = Campaign.create(
            {
                "name": "С днём рождения",
                "channel": "sms",
                "launch_type": "trigger",
                "trigger": "birthday",
                "sms_template_id": self.env.ref(
                    "loyalty_crm.sms_template_campaign_birthday"
                ).id,
            }
        )
        running.action_launch()
        manager = "lc_acl_loyalty_manager"
        # a confirmation the manager opened and left: not anyone's to confirm
        managers_wizard = self.rpc(
            manager,
            "loyalty.campaign.launch.wizard",
            "create",
            {"campaign_id": draft.id},
        )
        exception = self.env["loyalty.settlement"]._record_exception(
            "other", "Скидка без резерва", card=self.card
        )
        exception_context = {"active_ids": exception.ids}
        managers_resolution = self.rpc(
            manager,
            "loyalty.exception.resolve.wizard",
            "create",
            {"resolution": "Проверено"},
            context=exception_context,
        )

        def snapshot():
            self.env.flush_all()
            self.env.invalidate_all()
            counts = {
                model: self.env[model].sudo().search_count([])
                for model in (
                    "mailing.mailing",
                    "sms.sms",
                    "mail.mail",
                    "loyalty.campaign.occurrence",
                    "loyalty.ledger",
                    "utm.campaign",
                )
            }
            return (
                counts,
                draft.state,
                draft.schedule_date,
                running.state,
                exception.state,
                exception.resolution,
            )

        before = snapshot()
        self.assertEqual(before[1:5], ("draft", False, "running", "open"))
        for login in NOT_LOYALTY_MANAGERS + list(OUTSIDERS):
            with self.subTest(login=login):
                attacks = [
                    ("loyalty.campaign", "action_launch", [draft.id]),
                    ("loyalty.campaign", "action_launch_confirm", [draft.id]),
                    ("loyalty.campaign", "action_stop", [running.id]),
                    ("loyalty.campaign", "write", [draft.id], {"state": "scheduled"}),
                    ("loyalty.campaign", "write", [running.id], {"state": "stopped"}),
                    (
                        "loyalty.campaign.launch.wizard",
                        "create",
                        {"campaign_id": draft.id},
                    ),
                    (
                        "loyalty.campaign.launch.wizard",
                        "action_confirm",
                        [managers_wizard],
                    ),
                    ("loyalty.exception", "action_resolve", exception.ids, "Ничего"),
                    (
                        "loyalty.exception.resolve.wizard",
                        "create",
                        {"resolution": "Ничего"},
                    ),
                    (
                        "loyalty.exception.resolve.wizard",
                        "action_resolve",
                        [managers_resolution],
                    ),
                ]
                for model, method, *args in attacks:
                    with self.subTest(method=f"{model}.{method}"):
                        self.assertRefused(
                            login, model, method, *args, context=exception_context
                        )
                # never edited, by anyone
                with self.assertRaisesRegex(Fault, "never edited"):
                    self.rpc(
                        login,
                        "loyalty.exception",
                        "write",
                        exception.ids,
                        {"state": "resolved", "resolution": "Ничего"},
                    )
        self.assertEqual(snapshot(), before)
        # the Loyalty Manager does all of it
        self.rpc(
            manager,
            "loyalty.campaign.launch.wizard",
            "action_confirm",
            [managers_wizard],
        )
        self.rpc(manager, "loyalty.campaign", "action_stop", [running.id])
        self.rpc(
            manager,
            "loyalty.exception.resolve.wizard",
            "action_resolve",
            [managers_resolution],
            context=exception_context,
        )
        self.env.invalidate_all()
        self.assertEqual(
            (draft.state, running.state, exception.state, exception.resolution),
            ("scheduled", "stopped", "resolved", "Проверено"),
        )

    # ------------------------------------------------------------ bonus cards
    def test_no_role_rewrites_a_bonus_card(self):
        """Move a balance to an accomplice, unblock a card, change its number,
        take it out of the bonus program, archive it, set its points, or
        turn a coupon into a bonus card: refused to every role, managers too."""
        card, blocked, coupon = self.card, self.blocked, self.coupon
        before = {c: self.card_state(c) for c in (card, blocked, coupon)}
        attacks = [
            ("write", [card.id], {"partner_id": self.accomplice.id}),
            ("write", [blocked.id], {"loyalty_state": "active"}),
            ("write", [blocked.id], {"loyalty_state_reason": False}),
            ("write", [card.id], {"code": "0430000000666"}),
            ("write", [card.id], {"program_id": self.coupons.id}),
            ("write", [card.id], {"active": False}),
            ("write", [card.id], {"points": 5000}),
            ("write", [card.id], {"expiration_date": "2020-01-01"}),
            ("write", [coupon.id], {"program_id": self.program.id}),
            (
                "write",
                [coupon.id],
                {"program_id": self.program.id, "points": 5000},
            ),
            (
                "create",
                {
                    "program_id": self.program.id,
                    "partner_id": self.accomplice.id,
                    "points": 5000,
                },
            ),
            ("create", {"program_id": self.program.id, "code": "0430000000777"}),
        ]
        # the same through the member's list of cards (Odoo's x2many commands)
        through_partner = [
            {"loyalty_card_ids": [(4, card.id)]},
            {"loyalty_card_ids": [(1, card.id, {"partner_id": self.accomplice.id})]},
        ]
        for login in ROLES:
            for method, *args in attacks:
                with self.subTest(login=login, method=method, args=args):
                    self.assertRefused(login, "loyalty.card", method, *args)
            for vals in through_partner:
                with self.subTest(login=login, vals=vals):
                    self.assertRefused(
                        login, "res.partner", "write", [self.accomplice.id], vals
                    )
        self.assertEqual({c: self.card_state(c) for c in before}, before)
        self.assertFalse(
            self.env["loyalty.card"].search(
                [
                    ("program_id", "=", self.program.id),
                    ("partner_id", "=", self.accomplice.id),
                ]
            )
        )
        self.assertEqual(card.points, 300)
        self.assertEqual(len(card.ledger_ids), 1)

    def test_coupons_keep_odoo_behaviour(self):
        # a coupon's own fields stay writable by the staff Odoo lets write them
        self.rpc(
            "lc_acl_cashier", "loyalty.card", "write", [self.coupon.id], {"points": 3}
        )
        self.coupon.invalidate_recordset()
        self.assertEqual(self.coupon.points, 3)

    def test_unblocking_is_a_managers_decision_with_a_reason(self):
        for login in NOT_LOYALTY_MANAGERS:
            with self.subTest(login=login):
                # what Odoo's ACLs let these users do: just unblock it
                self.assertRefused(
                    login, "loyalty.card", "action_loyalty_unblock", [self.blocked.id]
                )
                self.assertRefused(
                    login,
                    "loyalty.card",
                    "write",
                    [self.blocked.id],
                    {"loyalty_state": "active"},
                )
                wizard_id = self.rpc(
                    login,
                    "loyalty.card.state.wizard",
                    "create",
                    {"card_id": self.blocked.id, "action": "unblock", "reason": "x"},
                )
                self.assertRefused(
                    login, "loyalty.card.state.wizard", "action_apply", [wizard_id]
                )
        self.assertEqual(self.blocked.loyalty_state, "blocked")
        manager = "lc_acl_loyalty_manager"
        # without a reason the manager is asked for one: nothing changes yet
        action = self.rpc(
            manager, "loyalty.card", "action_loyalty_unblock", [self.blocked.id]
        )
        self.assertEqual(action["res_model"], "loyalty.card.state.wizard")
        self.assertEqual(self.card_state(self.blocked)[3], "blocked")
        wizard_id = self.rpc(
            manager,
            "loyalty.card.state.wizard",
            "create",
            {
                "card_id": self.blocked.id,
                "action": "unblock",
                "reason": "Карта найдена, владелец подтвердил",
            },
        )
        self.rpc(manager, "loyalty.card.state.wizard", "action_apply", [wizard_id])
        self.blocked.invalidate_recordset()
        self.assertEqual(self.blocked.loyalty_state, "active")
        self.assertEqual(
            self.blocked.loyalty_state_reason, "Карта найдена, владелец подтвердил"
        )
        self.assertEqual(self.blocked.loyalty_state_user_id, self.users[manager])
        self.assertTrue(
            any(
                "Карта найдена, владелец подтвердил" in message.body
                for message in self.blocked.message_ids
            )
        )

    def test_blocking_asks_for_a_reason(self):
        cashier = "lc_acl_cashier"
        action = self.rpc(
            cashier, "loyalty.card", "action_loyalty_block", [self.card.id]
        )
        self.assertEqual(action["res_model"], "loyalty.card.state.wizard")
        self.assertEqual(self.card_state(self.card)[3], "active")
        with self.assertRaisesRegex(Fault, "Say why the card is blocked"):
            self.rpc(
                cashier,
                "loyalty.card",
                "action_loyalty_block",
                [self.card.id],
                reason="  ",
            )
        self.rpc(
            cashier,
            "loyalty.card",
            "action_loyalty_block",
            [self.card.id],
            reason="Украдена",
        )
        self.assertEqual(self.card_state(self.card)[3:5], ("blocked", "Украдена"))

    def test_choosing_the_replacement_number_is_a_managers(self):
        wizard_values = {
            "card_id": self.card.id,
            "reason": "Потеряна",
            "new_code": "0430000000888",
        }
        for login in NOT_LOYALTY_MANAGERS:
            with self.subTest(login=login):
                wizard_id = self.rpc(
                    login, "loyalty.card.replace.wizard", "create", wizard_values
                )
                self.assertRefused(
                    login, "loyalty.card.replace.wizard", "action_replace", [wizard_id]
                )
        self.assertEqual(self.card_state(self.card)[3], "active")
        manager = "lc_acl_loyalty_manager"
        wizard_id = self.rpc(
            manager, "loyalty.card.replace.wizard", "create", wizard_values
        )
        self.rpc(manager, "loyalty.card.replace.wizard", "action_replace", [wizard_id])
        self.member.invalidate_recordset()
        self.assertEqual(self.member.loyalty_card_code, "0430000000888")
        self.assertEqual(self.member.loyalty_points, 300)

    # ------------------------------------------------------------ bonus program
    def test_only_loyalty_managers_configure_the_bonus_program(self):
        program = self.program
        rule = program.rule_ids[:1]
        reward = program.reward_ids[:1]
        self.assertTrue(rule and reward)
        before = (
            program.point_value,
            program.max_redeem_share,
            rule.reward_point_amount,
            reward.discount,
            len(program.rule_ids),
        )
        attacks = [
            ("loyalty.program", "write", [program.id], {"point_value": 100.0}),
            ("loyalty.program", "write", [program.id], {"max_redeem_share": 100.0}),
            ("loyalty.program", "write", [program.id], {"min_balance_to_spend": 0}),
            ("loyalty.program", "write", [program.id], {"is_bonus_program": False}),
            ("loyalty.program", "write", [program.id], {"active": False}),
            (
                "loyalty.program",
                "create",
                {
                    "name": "Второй бонус",
                    "program_type": "loyalty",
                    "is_bonus_program": True,
                },
            ),
            (
                "loyalty.program",
                "write",
                [self.coupons.id],
                {"is_bonus_program": True, "program_type": "loyalty"},
            ),
            ("loyalty.rule", "write", [rule.id], {"reward_point_amount": 10.0}),
            ("loyalty.rule", "unlink", [rule.id]),
            (
                "loyalty.rule",
                "create",
                {
                    "program_id": program.id,
                    "reward_point_mode": "order",
                    "reward_point_amount": 1000,
                },
            ),
            ("loyalty.reward", "write", [reward.id], {"discount": 100.0}),
            (
                "loyalty.reward",
                "create",
                {
                    "program_id": program.id,
                    "reward_type": "discount",
                    "discount": 100,
                    "required_points": 1,
                },
            ),
        ]
        for login in NOT_LOYALTY_MANAGERS:
            for model, method, *args in attacks:
                with self.subTest(login=login, model=model, method=method, args=args):
                    self.assertRefused(login, model, method, *args)
        program.invalidate_recordset()
        rule.invalidate_recordset()
        reward.invalidate_recordset()
        self.assertEqual(
            (
                program.point_value,
                program.max_redeem_share,
                rule.reward_point_amount,
                reward.discount,
                len(program.rule_ids),
            ),
            before,
        )
        self.assertTrue(program.is_bonus_program and program.active)
        # POS and Sales managers still configure their other programs
        for login in ("lc_acl_pos_manager", "lc_acl_sale_manager"):
            self.rpc(
                login, "loyalty.program", "write", [self.coupons.id], {"name": login}
            )
        # the Loyalty Manager configures the bonus program
        manager = "lc_acl_loyalty_manager"
        self.rpc(
            manager, "loyalty.program", "write", [program.id], {"point_value": 0.5}
        )
        self.rpc(
            manager, "loyalty.rule", "write", [rule.id], {"reward_point_amount": 0.1}
        )
        program.invalidate_recordset()
        rule.invalidate_recordset()
        self.assertEqual((program.point_value, rule.reward_point_amount), (0.5, 0.1))

    # ------------------------------------------------------------ consent
    def test_consent_is_recorded_only_by_its_method(self):
        """A consent dated 2099, in another user's name, "from the portal":
        refused to every role; the back office records one dated now, in the
        user's name, from the back office."""
        Consent = self.env["loyalty.consent"]
        forged = {
            "partner_id": self.member.id,
            "consent": "opt_in",
            "source": "portal",
            "date": "2099-01-01 00:00:00",
            "user_id": self.users["lc_acl_loyalty_manager"].id,
            "note": "Согласие клиента",
        }
        for login in ROLES:
            with self.subTest(login=login):
                self.assertRefused(login, "loyalty.consent", "create", forged)
                with self.assertRaisesRegex(Fault, "Private methods"):
                    self.rpc(
                        login,
                        "loyalty.consent",
                        "_record",
                        self.member.id,
                        True,
                        "portal",
                    )
        self.assertFalse(Consent.search([("partner_id", "=", self.member.id)]))
        self.assertFalse(self.member.loyalty_marketing_consent)
        cashier = "lc_acl_cashier"
        start = fields.Datetime.now().replace(microsecond=0) - timedelta(seconds=1)
        wizard_id = self.rpc(
            cashier,
            "loyalty.consent.wizard",
            "create",
            {
                "partner_id": self.member.id,
                "consent": "opt_in",
                "note": "Бумажная анкета",
            },
        )
        self.rpc(cashier, "loyalty.consent.wizard", "action_record", [wizard_id])
        consent = Consent.search([("partner_id", "=", self.member.id)])
        self.assertEqual(len(consent), 1)
        self.assertEqual(
            (consent.source, consent.user_id, consent.consent, consent.note),
            ("backoffice", self.users[cashier], "opt_in", "Бумажная анкета"),
        )
        self.assertTrue(
            start <= consent.date <= fields.Datetime.now() + timedelta(seconds=1)
        )
        self.member.invalidate_recordset()
        self.assertTrue(self.member.loyalty_marketing_consent)
        # "from the portal" is the member's own word only; sources are known ones
        staff = Consent.with_user(self.users[cashier])
        with self.assertRaisesRegex(AccessError, "Only the member"):
            staff._record(self.member, False, "portal")
        with self.assertRaisesRegex(UserError, "telepathy"):
            staff._record(self.member, False, "telepathy")
        with self.assertRaisesRegex(UserError, "opt-in or an opt-out"):
            staff._record(self.member, "maybe", "backoffice")
        self.assertEqual(len(Consent.search([("partner_id", "=", self.member.id)])), 1)
        # not even superuser code writes one beside the method
        with self.assertRaisesRegex(Exception, "cannot be created directly"):
            Consent.sudo().create({"partner_id": self.member.id})

    # ------------------------------------------------------------ statistics
    def test_no_role_writes_the_purchase_statistics(self):
        """The RFM scores choose who gets a campaign's offer: only the nightly
        job writes them. Every role, managers included, is refused a write,
        create or delete of the rows, and a write of the partner's fields
        changes nothing (they are computed from the rows)."""
        Stats = self.env["loyalty.member.stats"]
        row = Stats.create(
            {
                "partner_id": self.member.id,
                "rfm_recency": 1,
                "rfm_frequency": 1,
                "rfm_monetary": 1,
                "last_purchase_date": fields.Date.today() - timedelta(days=300),
                "orders_30d": 0,
                "orders_90d": 0,
                "orders_365d": 1,
                "revenue_365d": 50,
            }
        )
        forged = {"rfm_monetary": 5, "rfm_recency": 5, "revenue_365d": 99999}
        for login in ROLES:
            with self.subTest(login=login):
                self.assertRefused(
                    login, "loyalty.member.stats", "write", [row.id], forged
                )
                self.assertRefused(
                    login,
                    "loyalty.member.stats",
                    "create",
                    dict(forged, partner_id=self.accomplice.id),
                )
                self.assertRefused(login, "loyalty.member.stats", "unlink", [row.id])
                # through the partner: its fields, or its rows as commands
                try:
                    self.rpc(
                        login,
                        "res.partner",
                        "write",
                        [self.member.id],
                        {"loyalty_rfm_monetary": 5, "loyalty_revenue_365d": 99999},
                    )
                except Fault as fault:  # no write access to partners at all
                    self.assertEqual(fault.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)
                with self.assertRaises(Fault):
                    self.rpc(
                        login,
                        "res.partner",
                        "write",
                        [self.accomplice.id],
                        {
                            "loyalty_stats_ids": [
                                (0, 0, dict(forged, last_purchase_date="2025-01-01"))
                            ]
                        },
                    )
        row.invalidate_recordset()
        self.member.invalidate_recordset()
        self.assertEqual(
            (row.rfm_monetary, row.rfm_recency, row.revenue_365d), (1, 1, 50)
        )
        self.assertEqual(self.member.loyalty_rfm_monetary, 1)
        self.assertFalse(Stats.search([("partner_id", "=", self.accomplice.id)]))
        # who reads the partner reads its scores; the rows, the loyalty staff
        # (every role above): an employee outside the program reads no row
        new_test_user(self.env, "lc_acl_employee", groups="base.group_user")
        employee = "lc_acl_employee"
        scores = self.rpc(
            employee,
            "res.partner",
            "read",
            [self.member.id],
            ["loyalty_rfm_monetary", "loyalty_orders_365d"],
        )[0]
        self.assertEqual(
            (scores["loyalty_rfm_monetary"], scores["loyalty_orders_365d"]), (1, 1)
        )
        self.assertEqual(
            self.rpc(
                employee,
                "res.partner",
                "search_count",
                [("id", "=", self.member.id), ("loyalty_rfm_monetary", "=", 1)],
            ),
            1,
        )
        self.assertRefused(employee, "loyalty.member.stats", "read", [row.id])
        self.assertEqual(
            self.rpc(
                "lc_acl_salesman",
                "loyalty.member.stats",
                "read",
                [row.id],
                ["rfm_monetary"],
            )[0]["rfm_monetary"],
            1,
        )

    def test_no_outsider_clears_the_servers_caches(self):
        """Keeping API keys and earning rules per process means clearing every
        server's whole cache when they change: a portal or plain internal user
        sets off no clearing, neither with calls refused to them nor with calls
        that change nothing (empty lists of ids, accepted by Odoo before any
        access check); a manager's real change does clear."""
        api_user = new_test_user(
            self.env,
            "lc_acl_api",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        key = self.env["res.users.apikeys"].with_user(api_user).sudo()
        key._generate(None, "cache", None)
        key_id = key.search([("user_id", "=", api_user.id)], limit=1).id
        coalition = self.env["loyalty.coalition.partner"].create(
            {
                "name": "Кафе",
                "partner_id": self.accomplice.id,
                "user_id": api_user.id,
                "program_id": self.program.id,
            }
        )
        company = self.env.company
        calls = [
            ("res.users.apikeys", "unlink", [key_id]),
            ("res.users.apikeys", "unlink", []),
            ("res.partner", "write", [api_user.partner_id.id], {"tz": "UTC"}),
            ("res.company", "write", [company.id], {"loyalty_bonus_program_id": False}),
            ("res.company", "write", [], {"loyalty_bonus_program_id": False}),
            ("loyalty.coalition.partner", "write", [coalition.id], {"name": "x"}),
            ("loyalty.coalition.partner", "unlink", [coalition.id]),
        ]
        for model in (
            "loyalty.coalition.partner",
            "loyalty.program",
            "loyalty.rule",
            "loyalty.tier",
        ):
            calls += [
                (model, "create", []),
                (model, "write", [], {}),
                (model, "unlink", []),
            ]
        calls += [
            ("loyalty.program", "write", [self.program.id], {"name": "x"}),
            ("loyalty.rule", "unlink", self.program.rule_ids.ids),
        ]
        registry = type(self.registry)
        original = registry.clear_cache
        cleared = []

        def counted(reg, *names):
            cleared.append(names)
            return original(reg, *names)

        with patch.object(registry, "clear_cache", counted):
            for login in ("lc_acl_portal", "lc_acl_internal"):
                self.rpc(login, "res.partner", "search", [])  # logged in once
                for model, method, *args in calls:
                    cleared.clear()
                    with self.subTest(login=login, call=(model, method, args)):
                        # refused or accepted: either way nothing is cleared
                        with contextlib.suppress(Fault):
                            self.rpc(login, model, method, *args)
                        self.assertEqual(cleared, [])
            # the spy sees a real change: a manager's
            self.rpc(
                "lc_acl_loyalty_manager",
                "loyalty.coalition.partner",
                "write",
                [coalition.id],
                {"name": "Кафе «Берёзка»"},
            )
            self.assertTrue(cleared)
