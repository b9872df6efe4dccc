import base64
import csv
import datetime
import io

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import LoyaltyCase

HEADER = (
    "name",
    "phone",
    "email",
    "card",
    "birthdate",
    "gender",
    "children",
    "city",
    "source",
    "consent",
    "consent_date",
    "consent_channel",
    "points",
    "expiry_date",
    "tier",
)


def _csv(rows, header=HEADER, delimiter=",", encoding="utf-8"):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode(encoding)


def _phone(i):
    return f"+7 916 {i // 10000 % 1000:03d}-{i // 100 % 100:02d}-{i % 100:02d}"


@tagged("post_install", "-at_install")
class TestImport(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {"welcome_points": 0, "questionnaire_points": 0, "pending_days": 0}
        )
        cls.silver = cls.env["loyalty.tier"].create(
            {"program_id": cls.program.id, "name": "Серебро", "min_spend": 10000}
        )
        cls.today = datetime.date.today()
        cls.future = (cls.today + datetime.timedelta(days=200)).isoformat()
        cls.Batch = cls.env["loyalty.import.batch"].with_user(cls.manager)

    def _batch(self, data, name="members.csv"):
        return self.Batch.create(
            {
                "name": name,
                "file": base64.b64encode(data),
                "program_id": self.program.id,
            }
        )

    def _report(self, batch):
        text = batch.report_id.raw.decode("utf-8-sig")
        return {int(row[0]): row for row in list(csv.reader(io.StringIO(text)))[1:]}

    def _counts(self):
        self.env.flush_all()
        return {
            model: self.env[model]
            .sudo()
            .with_context(active_test=False)
            .search_count([])
            for model in (
                "res.partner",
                "loyalty.card",
                "loyalty.ledger",
                "loyalty.consent",
                "loyalty.tier.history",
            )
        }

    def _dirty_rows(self):
        """1,000 rows: valid ones, and on known lines every kind of error."""
        taken = self._member(name="Уже Участник", phone="+7 903 000-00-01")
        other_card = taken.loyalty_card_id.code
        good = {
            "consent": "да",
            "consent_date": "15.03.2024",
            "consent_channel": "sms",
            "points": "150,50",
            "expiry_date": self.future,
            "gender": "ж",
            "birthdate": "1990-05-17",
            "children": "2",
            "city": "Казань",
            "source": "Старая программа",
            "tier": "Серебро",
        }
        rows = [
            dict(
                good,
                name=f"Клиент {i}",
                phone=_phone(i),
                email=f"client{i}@example.com",
                card=f"OLD-{i:06d}",
            )
            for i in range(1000)
        ]
        bad = {
            # line number (header is line 1) -> (change, expected reason fragment)
            2: ({"phone": "12"}, "Invalid phone"),
            3: ({"name": ""}, "name is missing"),
            4: ({"phone": ""}, "phone is missing"),
            5: ({"phone": _phone(0)}, "already on line 2"),  # line 2 refused...
            100: ({"card": "OLD-000030"}, "already on line 32"),
            7: ({"card": other_card}, "belongs to another customer"),
            8: ({"tier": "Платина"}, "Unknown tier"),
            9: ({"email": "not-an-email"}, "Invalid email"),
            10: ({"birthdate": "31.02.1990"}, "Invalid date"),
            11: ({"birthdate": "2999-01-01"}, "Impossible birth date"),
            12: ({"consent_date": ""}, "has no date"),
            13: ({"consent": "может быть"}, "yes or no"),
            14: ({"consent_date": "2999-01-01"}, "in the future"),
            15: ({"consent_channel": "голубь"}, "Unknown consent channel"),
            16: ({"points": "-5"}, "Invalid points"),
            17: ({"points": "1.234"}, "Invalid points"),
            18: ({"expiry_date": "2001-01-01"}, "expired"),
            19: ({"gender": "кот"}, "Unknown value"),
            20: ({"children": "много"}, "Children must be a number"),
            21: ({"card": "0431 2345"}, "Invalid card number"),
            22: ({"points": "", "expiry_date": self.future}, "without points"),
            23: ({"points": "99999999999"}, "too many"),
            24: ({"phone": "+7 903 000-00-01", "card": "NEW-1"}, "already has card"),
            25: ({"consent": "", "consent_channel": "sms"}, "without the consent"),
        }
        # line 5 repeats the phone of line 3 (line 2 is refused, so the first
        # accepted row with that phone is the one the duplicate names)
        bad[5] = ({"phone": _phone(1)}, "already on line 3")
        del bad[3]
        bad[26] = ({"name": ""}, "name is missing")
        for line, (change, _reason) in bad.items():
            rows[line - 2].update(change)
        return rows, bad

    def test_dirty_file_dry_run_then_import_then_rerun(self):
        rows, bad = self._dirty_rows()
        before = self._counts()
        batch = self._batch(_csv(rows))
        batch.action_check()
        self.assertEqual(batch.state, "checked")
        # a dry run writes nothing but its report
        self.assertEqual(self._counts(), before)
        report = self._report(batch)
        self.assertEqual(len(report), 1000)
        refused = {line for line, row in report.items() if row[1] == "Refused"}
        self.assertEqual(refused, set(bad), {k: report[k] for k in refused ^ set(bad)})
        for line, (_change, reason) in bad.items():
            self.assertIn(reason, report[line][2], report[line])
        self.assertEqual(batch.refused_count, len(bad))
        self.assertEqual(batch.created_count, 1000 - len(bad))
        expected_points = round(150.5 * (1000 - len(bad)), 2)
        self.assertAlmostEqual(batch.points_total, expected_points, places=2)

        batch.action_import()
        self.assertEqual(batch.state, "done")
        after = self._counts()
        created = 1000 - len(bad)
        self.assertEqual(after["res.partner"] - before["res.partner"], created)
        self.assertEqual(after["loyalty.card"] - before["loyalty.card"], created)
        self.assertEqual(after["loyalty.ledger"] - before["loyalty.ledger"], created)
        self.assertEqual(after["loyalty.consent"] - before["loyalty.consent"], created)
        # the imported member: card number kept as it was, questionnaire, consent
        member = self.env["res.partner"]._loyalty_lookup("8 916 000-00-50")
        self.assertEqual(member.name, "Клиент 50")
        card = member.loyalty_card_id
        self.assertEqual(card.code, "OLD-000050")
        self.assertEqual(card.loyalty_state, "active")
        self.assertEqual(member.loyalty_gender, "female")
        self.assertEqual(member.loyalty_children, "2")
        self.assertEqual(member.loyalty_birthdate, datetime.date(1990, 5, 17))
        self.assertEqual(member.loyalty_source_id.name, "Старая программа")
        self.assertEqual(member.loyalty_tier_id, self.silver)
        self.assertTrue(member.loyalty_referral_code)
        consent = member.loyalty_consent_ids
        self.assertEqual(
            (consent.consent, consent.channel, consent.source, consent.date),
            ("opt_in", "sms", "import", datetime.datetime(2024, 3, 15)),
        )
        # the balance is an opening entry of the batch, expiry kept
        entry = card.ledger_ids
        self.assertEqual(
            (entry.entry_type, entry.points, entry.state, entry.expiry_date),
            ("opening", 150.5, "available", datetime.date.fromisoformat(self.future)),
        )
        self.assertEqual((entry.res_model, entry.res_id), (batch._name, batch.id))
        self.assertEqual(card.points, 150.5)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())
        self.assertEqual(batch.ledger_ids.mapped("entry_type"), ["opening"] * created)

        # the same file again changes nothing
        again = self._batch(_csv(rows))
        again.action_check()
        self.assertEqual(
            (again.created_count, again.updated_count, again.unchanged_count),
            (0, 0, created),
        )
        again.action_import()
        self.assertEqual(self._counts(), after)
        self.assertEqual(again.points_total, 0)

    def test_semicolon_cp1251_and_existing_member(self):
        member = self._member(name="Ирина Старая", phone="+7 916 555-00-01")
        member.write({"city": "Москва"})
        data = _csv(
            [
                {
                    "name": "Ирина Новая",
                    "phone": "8 (916) 555-00-01",
                    "email": "irina@example.com",
                    "city": "Тверь",
                    "points": "40",
                },
                {"name": "Пётр", "phone": "8 916 555 00 02"},
            ],
            delimiter=";",
            encoding="cp1251",
        )
        batch = self._batch(data)
        batch.action_check()
        report = self._report(batch)
        self.assertEqual(report[2][1], "Updated")
        self.assertIn("City", report[2][2])  # Moscow kept, Tver not written
        self.assertIn("Name", report[2][2])
        self.assertEqual(report[3][1], "Created")
        batch.action_import()
        self.assertEqual(member.name, "Ирина Старая")
        self.assertEqual(member.city, "Москва")
        self.assertEqual(member.email, "irina@example.com")  # a blank filled
        self.assertEqual(member.loyalty_points, 40)
        # a card number was generated for the member who had none
        peter = self.env["res.partner"]._loyalty_lookup("+79165550002")
        self.assertEqual(len(peter.loyalty_card_id.code), 13)

    def test_xlsx_through_base_import(self):
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["Имя", "Телефон", "Карта", "Баллы", "Сгорают"])
        sheet.append(["Ольга", "+7 916 777-00-01", "A-17", 25, self.future])
        sheet.append(["Олег", "+7 916 777-00-02", "4600000000011", 10.5, None])
        out = io.BytesIO()
        book.save(out)
        batch = self._batch(out.getvalue(), name="старая программа.xlsx")
        batch.action_check()
        self.assertEqual(batch.created_count, 2, self._report(batch))
        batch.action_import()
        olga = self.env["res.partner"]._loyalty_lookup("A-17")
        self.assertEqual((olga.name, olga.loyalty_points), ("Ольга", 25))
        oleg = self.env["res.partner"]._loyalty_lookup("4600000000011")
        self.assertEqual(oleg.loyalty_points, 10.5)
        # no expiry in the file: the program's lifetime applies
        self.assertEqual(
            oleg.loyalty_card_id.ledger_ids.expiry_date,
            self.program._loyalty_expiry_date() or False,
        )

    def test_rollback_only_while_unspent(self):
        data = _csv(
            [
                {"name": "А", "phone": _phone(5001), "points": "100"},
                {"name": "Б", "phone": _phone(5002), "points": "60"},
            ]
        )
        batch = self._batch(data)
        batch.action_check()
        batch.action_import()
        card_a = self.env["res.partner"]._loyalty_lookup(_phone(5001)).loyalty_card_id
        card_b = self.env["res.partner"]._loyalty_lookup(_phone(5002)).loyalty_card_id
        # an accrual after the import does not block the rollback
        self.Ledger._post(card_a, 30, "adjustment", reason="later purchase")
        entries = self.Ledger.sudo().search_count([])
        batch.with_user(self.manager).action_rollback()
        self.assertEqual(batch.state, "rolled_back")
        self.assertEqual((card_a.points, card_b.points), (30, 0))
        # nothing deleted: the openings stay, reversals were added
        self.assertEqual(self.Ledger.sudo().search_count([]), entries + 2)
        reversals = batch.ledger_ids.filtered(lambda e: e.entry_type == "reversal")
        self.assertEqual(sorted(reversals.mapped("points")), [-100, -60])
        self.assertFalse(self.Ledger._loyalty_find_mismatches())
        with self.assertRaises(UserError):
            batch.action_rollback()  # once
        # the file can be imported again: the balances come back
        again = self._batch(data)
        again.action_check()
        self.assertEqual(again.updated_count, 2)
        again.action_import()
        self.assertEqual((card_a.points, card_b.points), (130, 60))
        # once a member spent imported points, the batch stays
        self.Ledger._redeem(card_b, 10, 1000, "spend-b")
        with self.assertRaisesRegex(UserError, card_b.code):
            again.action_rollback()
        self.assertEqual(card_b.points, 50)
        self.assertEqual(again.state, "done")

    def test_only_managers_import(self):
        data = _csv([{"name": "А", "phone": _phone(6001), "points": "100"}])
        with self.assertRaises(AccessError):
            self.env["loyalty.import.batch"].with_user(self.cashier).create(
                {"name": "x.csv", "file": base64.b64encode(data)}
            )
        batch = self._batch(data)
        with self.assertRaises(AccessError):
            batch.with_user(self.cashier).action_check()
        # importing without a dry run of this very file is refused
        with self.assertRaisesRegex(UserError, "dry run"):
            batch.action_import()
        batch.action_check()
        batch.write({"file": base64.b64encode(data.replace(b"100", b"900"))})
        with self.assertRaisesRegex(UserError, "dry run"):
            batch.action_import()

    def test_unreadable_files(self):
        with self.assertRaisesRegex(UserError, "phone"):
            self._batch(b"foo,bar\n1,2\n").action_check()
        with self.assertRaisesRegex(UserError, "empty"):
            self._batch(b"\n\n").action_check()
