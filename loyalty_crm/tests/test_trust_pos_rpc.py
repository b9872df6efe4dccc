"""The till's member RPCs (``pos.config.loyalty_crm_otp_request`` and
``loyalty_crm_reserve``) over real XML-RPC as the cashier, with a partner id the
till should never send: refused with the till's refusal, nothing sent, nothing
held."""

import uuid as uuid_lib
from xmlrpc.client import Fault

from odoo.tests import HttpCase, tagged

from .pos_common import PosLoyaltyCase


@tagged("post_install", "-at_install")
class TestTrustPosRpc(HttpCase, PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {"pending_days": 0, "max_redeem_share": 100, "min_balance_to_spend": 0}
        )
        Partner = cls.env["res.partner"]
        member = cls._member(name="Участник", phone="+7 916 100-00-01")
        cls.Ledger._post(member.loyalty_card_id, 500, "adjustment", reason="seed")
        cls.member = member
        # another company's member (its contact and card are that company's)
        cls.company_b = cls.env["res.company"].create({"name": "Магазин Б"})
        cls.company_b.write(
            {"loyalty_phone_region": "RU", "loyalty_required_field_ids": False}
        )
        program_b = cls.env["loyalty.program"]._get_bonus_program(cls.company_b)
        cls.member_b = Partner.create(
            {
                "name": "Чужой участник",
                "phone": "+79161000002",
                "company_id": cls.company_b.id,
            }
        )
        cls.member_b._loyalty_enrol(program=program_b)
        # a contact shared by both companies, a member of company B only
        cls.shared_b = Partner.create(
            {"name": "Общий контакт", "phone": "+79161000003"}
        )
        cls.shared_b._loyalty_enrol(program=program_b)
        for partner in (cls.member_b, cls.shared_b):
            cls.Ledger._post(partner.loyalty_card_id, 500, "adjustment", reason="seed")
        cls.stranger = Partner.create({"name": "Не участник", "phone": "+79161000004"})
        cls.archived = cls._member(name="В архиве", phone="+7 916 100-00-05")
        cls.Ledger._post(cls.archived.loyalty_card_id, 500, "adjustment", reason="s")
        cls.archived.action_archive()
        cls.blocked = cls._member(name="Заблокирован", phone="+7 916 100-00-06")
        cls.Ledger._post(cls.blocked.loyalty_card_id, 500, "adjustment", reason="s")
        cls.blocked.loyalty_card_id.action_loyalty_block(reason="Украдена")

    def rpc(self, method, *args):
        login = self.pos_cashier.login
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, login, {})
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            login,
            "pos.config",
            method,
            [[self.config.id]] + list(args),
        )

    def written(self):
        self.env.flush_all()
        self.env.invalidate_all()
        return {
            model: self.env[model].sudo().search_count([])
            for model in ("loyalty.otp", "sms.sms", "loyalty.ledger")
        }

    def assertRefusedByTheTill(self, answer, code):
        self.assertIs(answer["ok"], False, answer)
        self.assertEqual(answer["code"], code, answer)
        self.assertTrue(answer["message"], answer)

    def test_partner_ids_the_till_never_sends(self):
        before = self.written()
        balances = {
            partner: partner.loyalty_card_id.points
            for partner in (self.member_b, self.shared_b, self.archived, self.blocked)
        }
        hostile = [
            (self.member_b.id, "not_found"),
            (self.shared_b.id, "not_found"),
            (self.stranger.id, "not_found"),
            (2**31 - 1, "not_found"),
            (-7, "not_found"),
            (0, "not_found"),
            (False, "not_found"),
            ("abc", "not_found"),
            ([self.member.id], "not_found"),
            (self.archived.id, "not_found"),
            (self.blocked.id, "card_blocked"),
        ]
        for partner_id, code in hostile:
            with self.subTest(partner_id=partner_id):
                try:
                    self.assertRefusedByTheTill(
                        self.rpc("loyalty_crm_otp_request", partner_id), code
                    )
                    self.assertRefusedByTheTill(
                        self.rpc(
                            "loyalty_crm_reserve",
                            str(uuid_lib.uuid4()),
                            partner_id,
                            10,
                            1000,
                            {"card": self.member.loyalty_card_id.code},
                        ),
                        code,
                    )
                except Fault as fault:
                    self.fail(f"{partner_id!r}: {fault.faultString[-300:]}")
        self.assertEqual(self.written(), before)
        for partner, points in balances.items():
            self.assertEqual(partner.loyalty_card_id.points, points)
        # the cashier's own member: reserved, once
        answer = self.rpc(
            "loyalty_crm_reserve",
            str(uuid_lib.uuid4()),
            self.member.id,
            10,
            1000,
            {"card": self.member.loyalty_card_id.code},
        )
        self.assertTrue(answer["ok"], answer)
        self.assertEqual(self.written()["loyalty.ledger"], before["loyalty.ledger"] + 1)
