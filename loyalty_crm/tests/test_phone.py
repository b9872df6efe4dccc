from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..tools import normalize_phone
from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestPhone(LoyaltyCase):
    def test_russian_notations_give_one_e164(self):
        for notation in (
            "8 (916) 123-45-67",
            "+7 916 123 45 67",
            "89161234567",
            "+7-916-123-45-67",
            "+7 (916) 1234567",
            "9161234567",
        ):
            with self.subTest(notation=notation):
                self.assertEqual(normalize_phone(notation, "RU"), "+79161234567")

    def test_foreign_numbers_keep_their_country(self):
        self.assertEqual(normalize_phone("+44 20 7946 0958", "RU"), "+442079460958")
        self.assertEqual(normalize_phone("+49 30 901820", "RU"), "+4930901820")
        self.assertEqual(normalize_phone("+1 (415) 555-2671", "RU"), "+14155552671")
        # the region only applies to national notations
        self.assertEqual(normalize_phone("020 7946 0958", "GB"), "+442079460958")

    def test_garbage_is_refused(self):
        for garbage in (
            "abc",
            "12",
            "+7 916 123",
            "+999 123 456 789",
            "8 (000) 000-00-00",
            "---",
        ):
            with self.subTest(garbage=garbage), self.assertRaises(ValueError):
                normalize_phone(garbage, "RU")

    def test_member_phone_stored_in_e164(self):
        member = self._member(phone="8 (916) 123-45-67")
        self.assertEqual(member.phone, "+79161234567")
        self.assertEqual(member.loyalty_phone, "+79161234567")
        member.phone = "8 903 555 12 34"
        self.assertEqual(member.phone, "+79035551234")
        self.assertEqual(member.loyalty_phone, "+79035551234")

    def test_region_is_configurable(self):
        self.company.loyalty_phone_region = "DE"
        member = self._member(phone="030 901820")
        self.assertEqual(member.phone, "+4930901820")

    def test_partner_country_wins_over_default_region(self):
        gb = self.env.ref("base.uk")
        member = self._member(phone="020 7946 0958", country_id=gb.id)
        self.assertEqual(member.phone, "+442079460958")

    def test_invalid_phone_on_member_names_the_field(self):
        member = self._member()
        with self.assertRaisesRegex(ValidationError, "Phone.*not a valid phone number"):
            member.phone = "not a phone"
        with self.assertRaisesRegex(ValidationError, "Mobile.*123"):
            member.mobile = "123"
        self.assertEqual(member.phone, "+79161234567")

    def test_invalid_phone_refused_at_enrolment_and_nothing_written(self):
        partner = self.env["res.partner"].create(
            {"name": "Bad Phone", "phone": "12-34"}
        )
        with self.assertRaisesRegex(ValidationError, "Phone"):
            partner._loyalty_enrol()
        self.assertFalse(partner.loyalty_is_member)
        self.assertFalse(
            self.env["loyalty.card"].search([("partner_id", "=", partner.id)])
        )

    def test_non_members_keep_their_phone_as_typed(self):
        partner = self.env["res.partner"].create(
            {"name": "Supplier", "phone": "ext. 42"}
        )
        self.assertEqual(partner.phone, "ext. 42")
        self.assertFalse(partner.loyalty_phone)

    def test_duplicate_phone_refused(self):
        self._member(phone="+7 916 123-45-67")
        other = self.env["res.partner"].create(
            {"name": "Двойник", "phone": "8 916 123 45 67"}
        )
        with self.assertRaisesRegex(
            ValidationError, r"\+79161234567 already belongs to member"
        ):
            other._loyalty_enrol()
        self.assertFalse(other.loyalty_is_member)
        # and a member can't take another member's phone later either
        third = self._member(name="Третий", phone="+7 903 555-12-34")
        with self.assertRaisesRegex(ValidationError, "already belongs to member"):
            third.phone = "89161234567"

    def test_phone_finds_member_like_a_card(self):
        member = self._member(phone="+7 916 123-45-67")
        Partner = self.env["res.partner"]
        for term in ("8 916 123 45 67", "+79161234567", member.loyalty_card_code):
            with self.subTest(term=term):
                self.assertEqual(Partner._loyalty_lookup(term), member)
                self.assertEqual(
                    Partner.search([("loyalty_lookup", "=", term)]), member
                )
        self.assertFalse(Partner._loyalty_lookup("8 916 000 00 00"))
        self.assertFalse(Partner._loyalty_lookup("rubbish"))
