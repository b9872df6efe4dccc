"""The set-based import of new members: what it stores is what the ORM stores,
read back by every part of the addon; hostile files are refused row by row."""

import base64
import csv
import datetime
import io
from unittest.mock import patch

from odoo.tests import tagged

from ..models import loyalty_import_batch
from .api_common import ApiCase
from .test_import import _csv

FUTURE = (datetime.date.today() + datetime.timedelta(days=200)).isoformat()
HEADER = (
    "name",
    "phone",
    "email",
    "card",
    "birthdate",
    "gender",
    "marital_status",
    "employment",
    "occupation",
    "children",
    "city",
    "source",
    "medium",
    "campaign",
    "consent",
    "consent_date",
    "consent_channel",
    "points",
    "expiry_date",
    "tier",
)
# columns whose value is the time of the run, not of the data
VOLATILE = {"calendar_last_notif_ack", "activation_date", "loyalty_state_date"}


@tagged("post_install", "-at_install")
class TestImportBulk(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.silver = cls.env["loyalty.tier"].create(
            {"program_id": cls.program.id, "name": "Серебро", "min_spend": 10000}
        )
        cls.Batch = cls.env["loyalty.import.batch"].with_user(cls.manager)
        # a member of the base, whom the file updates
        cls.known = cls._member(name="Вера Старая", phone="+7 916 400-00-01")

    def _rows(self):
        full = {
            "name": "Ольга Иванова",
            "phone": "8 (916) 400-00-10",
            "email": "Olga.Ivanova@Example.com",
            "card": "OLD-0010",
            "birthdate": "17.05.1990",
            "gender": "ж",
            "marital_status": "замужем",
            "employment": "работает",
            "occupation": "врач",
            "children": "5",
            "city": "Казань",
            "source": "Старая программа",
            "medium": "Магазин",
            "campaign": "Весна 2024",
            "consent": "да",
            "consent_date": "15.03.2024 10:30",
            "consent_channel": "все",
            "points": "1 250,50",
            "expiry_date": FUTURE,
            "tier": "Серебро",
        }
        return [
            full,
            # the least a row can say: a name and a phone; a card number generated
            {"name": "Пётр", "phone": "+7 916 400-00-11"},
            # SMS only, opted out, points without their own expiry
            {
                "name": "Иван Петров",
                "phone": "+79164000012",
                "card": "4600000000011",
                "consent": "нет",
                "consent_date": "2023-12-01",
                "consent_channel": "sms",
                "points": "10",
                "source": "старая ПРОГРАММА",  # the same source, other case
            },
            # an existing member: blanks filled, an opening balance, a consent
            {
                "name": "Вера Новая",
                "phone": "8 916 400 00 01",
                "email": "vera@example.com",
                "points": "40",
                "consent": "да",
                "consent_date": "01.02.2024",
            },
        ]

    def _import(self, data, orm=False, name="members.csv"):
        Batch = self.Batch.with_context(loyalty_import_orm=orm)
        batch = Batch.create(
            {
                "name": name,
                "file": base64.b64encode(data),
                "program_id": self.program.id,
            }
        )
        batch.action_check()
        batch.action_import()
        self.env.flush_all()
        self.env.invalidate_all()
        return batch

    def _report(self, batch):
        text = batch.report_id.raw.decode("utf-8-sig")
        return {int(row[0]): row for row in list(csv.reader(io.StringIO(text)))[1:]}

    def _rows_of(self, table, where, *params):
        self.env.cr.execute(
            f"SELECT to_jsonb(t) FROM {table} t WHERE {where} ORDER BY t.id",  # noqa: S608
            params,
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _snapshot(self, phones):
        """Every column of the members with these phones and of what the import
        wrote for them, ids replaced by what they point at."""
        partners = self._rows_of("res_partner", "loyalty_phone IN %s", tuple(phones))
        by_id = {p["id"]: p["loyalty_phone"] for p in partners}
        pids = tuple(by_id)
        cards = self._rows_of("loyalty_card", "partner_id IN %s", pids)
        codes = {c["id"]: c["code"] for c in cards}
        utm = {}
        for table in ("utm_source", "utm_medium", "utm_campaign"):
            for row in self._rows_of(table, "TRUE"):
                utm[(table, row["id"])] = row["name"]

        def clean(row, refs):
            row = {k: v for k, v in row.items() if k not in VOLATILE and k != "id"}
            for key, mapping in refs.items():
                if row.get(key) is not None:
                    row[key] = mapping(row[key])
            return row

        def code(card_id):
            value = codes[card_id]
            # a generated number: its form, not its random digits
            return "043-generated" if len(value) == 13 and value[:3] == "043" else value

        snapshot = {}
        for p in partners:
            own = p["id"]
            row = clean(
                p,
                {
                    "commercial_partner_id": lambda v, own=own: "self"
                    if v == own
                    else v,
                    "loyalty_card_id": code,
                    "loyalty_referral_code": lambda v, own=own: v.replace(
                        str(own), "<id>"
                    ),
                    "loyalty_source_id": lambda v: utm[("utm_source", v)],
                    "loyalty_medium_id": lambda v: utm[("utm_medium", v)],
                    "loyalty_campaign_id": lambda v: utm[("utm_campaign", v)],
                },
            )
            snapshot[("partner", p["loyalty_phone"])] = row
        for c in cards:
            snapshot[("card", by_id[c["partner_id"]])] = clean(
                c, {"partner_id": by_id.get, "code": lambda v, c=c: code(c["id"])}
            )
        for table in ("loyalty_consent", "loyalty_tier_history", "loyalty_ledger"):
            rows = self._rows_of(table, "partner_id IN %s", pids)
            snapshot[(table, "all")] = sorted(
                (
                    clean(
                        r,
                        {
                            "partner_id": by_id.get,
                            "card_id": code,
                            "res_id": lambda v: "<batch>",
                            "idempotency_key": lambda v: "<key>",
                            "date": lambda v, t=table: v
                            if t == "loyalty_consent"
                            else "<now>",
                        },
                    )
                    for r in rows
                ),
                key=repr,
            )
        # what the members' chatter holds: nothing per member
        for model, ids in (("res.partner", pids), ("loyalty.card", tuple(codes))):
            for table, column in (
                ("mail_message", "model"),
                ("mail_followers", "res_model"),
            ):
                self.env.cr.execute(
                    f"SELECT count(*) FROM {table} WHERE {column} = %s"  # noqa: S608
                    " AND res_id IN %s",
                    (model, ids),
                )
                snapshot[(table, model)] = self.env.cr.fetchone()[0]
        return snapshot

    # ------------------------------------------------------------ equivalence
    def test_sql_path_stores_what_the_orm_stores(self):
        data = _csv(self._rows(), header=HEADER)
        phones = ("+79164000010", "+79164000011", "+79164000012", "+79164000001")
        self.env.cr.execute("SAVEPOINT import_orm")
        reference = self._import(data, orm=True)
        self.assertEqual(
            (reference.created_count, reference.updated_count), (3, 1), reference
        )
        expected = self._snapshot(phones)
        self.env.cr.execute("ROLLBACK TO SAVEPOINT import_orm")
        self.env.invalidate_all()

        batch = self._import(data)
        self.assertEqual((batch.created_count, batch.updated_count), (3, 1))
        got = self._snapshot(phones)
        self.assertEqual(set(got), set(expected))
        for key, value in expected.items():
            self.assertEqual(got[key], value, key)
        # the snapshot is not empty of what matters
        self.assertEqual(len(got[("loyalty_ledger", "all")]), 3)
        self.assertEqual(len(got[("loyalty_consent", "all")]), 3)
        self.assertIn(("mail_followers", "loyalty.card"), got)

    def test_imported_member_read_everywhere(self):
        batch = self._import(_csv(self._rows(), header=HEADER), name="старая.csv")
        Partner = self.env["res.partner"]
        olga = Partner._loyalty_lookup("+7 916 400-00-10")
        card = olga.loyalty_card_id
        # found by phone in any notation, by card, by the search field
        self.assertEqual(Partner._loyalty_lookup("8 916 400 00 10"), olga)
        self.assertEqual(Partner._loyalty_lookup("OLD-0010"), olga)
        self.assertEqual(Partner.search([("loyalty_lookup", "=", "OLD-0010")]), olga)
        self.assertEqual(
            Partner.search([("phone_sanitized", "=", "+79164000010")]), olga
        )
        self.assertEqual(
            (
                olga.name,
                olga.complete_name,
                olga.display_name,
                olga.phone,
                olga.loyalty_phone,
                olga.email,
                olga.email_normalized,
                olga.city,
            ),
            (
                "Ольга Иванова",
                "Ольга Иванова",
                "Ольга Иванова",
                "+79164000010",
                "+79164000010",
                "Olga.Ivanova@Example.com",
                "olga.ivanova@example.com",
                "Казань",
            ),
        )
        self.assertEqual(
            (
                olga.loyalty_birthdate,
                olga.loyalty_gender,
                olga.loyalty_marital_status,
                olga.loyalty_employment,
                olga.loyalty_occupation,
                olga.loyalty_children,
            ),
            (datetime.date(1990, 5, 17), "female", "married", "employed", "врач", "3"),
        )
        # phone, email, birth date, gender, marital status, employment,
        # children, city: 8 answers of 10
        self.assertEqual(olga.loyalty_completeness, 80)
        self.assertTrue(olga.loyalty_marketing_consent)
        self.assertEqual(olga.commercial_partner_id, olga)
        self.assertFalse(olga.company_id)
        self.assertTrue(olga.active and olga.partner_share)
        self.assertEqual(olga.lang, self.manager.lang)
        self.assertEqual(olga.loyalty_referral_code, f"OLGA{olga.id}")
        self.assertEqual(olga.loyalty_tier_id, self.silver)
        self.assertEqual(
            olga.loyalty_tier_history_ids.mapped(
                lambda h: (h.old_tier_id, h.new_tier_id, h.direction)
            ),
            [(self.env["loyalty.tier"], self.silver, "up")],
        )
        self.assertEqual(
            (
                olga.loyalty_source_id.name,
                olga.loyalty_medium_id.name,
                olga.loyalty_campaign_id.name,
            ),
            ("Старая программа", "Магазин", "Весна 2024"),
        )
        self.assertTrue(olga.loyalty_is_member)
        self.assertEqual(olga.loyalty_member_since, card.create_date)
        # the card: its number kept, active, the balance its ledger's
        self.assertEqual(
            (
                card.code,
                card.loyalty_state,
                card.points,
                card.loyalty_debt,
                card.program_id,
                card.company_id,
                card.is_bonus_card,
                card.create_uid,
            ),
            (
                "OLD-0010",
                "active",
                1250.5,
                0.0,
                self.program,
                self.program.company_id,
                True,
                self.manager,
            ),
        )
        self.assertTrue(card.activation_date)
        self.assertEqual(
            (olga.loyalty_points, olga.loyalty_card_code, olga.loyalty_card_state),
            (1250.5, "OLD-0010", "active"),
        )
        # the consent log: dated and channelled as in the file, by the importer
        self.assertEqual(
            olga.loyalty_consent_ids.mapped(
                lambda c: (
                    c.purpose,
                    c.consent,
                    c.channel,
                    c.date,
                    c.source,
                    c.user_id,
                    c.note,
                    c.company_id,
                )
            ),
            [
                (
                    "marketing",
                    "opt_in",
                    "all",
                    datetime.datetime(2024, 3, 15, 10, 30),
                    "import",
                    self.manager,
                    "Import старая.csv",
                    self.program.company_id,
                )
            ],
        )
        ivan = Partner._loyalty_lookup("4600000000011")
        self.assertEqual(
            ivan.loyalty_consent_ids.mapped(lambda c: (c.consent, c.channel, c.date)),
            [("opt_out", "sms", datetime.datetime(2023, 12, 1))],
        )
        self.assertFalse(ivan.loyalty_marketing_consent)  # no answer for all channels
        self.assertEqual(ivan.loyalty_source_id, olga.loyalty_source_id)
        # the opening entry: the ledger's rules, attributed to the batch
        entry = card.ledger_ids
        self.assertEqual(
            (
                entry.entry_type,
                entry.points,
                entry.state,
                entry.expiry_date,
                entry.res_model,
                entry.res_id,
                entry.idempotency_key,
                entry.partner_id,
                entry.program_id,
                entry.company_id,
                entry.user_id,
                entry.reason,
            ),
            (
                "opening",
                1250.5,
                "available",
                datetime.date.fromisoformat(FUTURE),
                "loyalty.import.batch",
                batch.id,
                f"loyalty.import.batch/{batch.id}/{card.id}",
                olga,
                self.program,
                self.program.company_id,
                self.manager,
                "Opening balance, import старая.csv",
            ),
        )
        # no expiry date in the file: the program's policy
        self.assertEqual(
            ivan.loyalty_card_id.ledger_ids.expiry_date,
            self.program._loyalty_expiry_date() or False,
        )
        peter = Partner._loyalty_lookup("+79164000011")
        self.assertEqual(len(peter.loyalty_card_id.code), 13)
        self.assertFalse(peter.loyalty_card_id.ledger_ids)
        self.assertEqual(peter.loyalty_card_id.points, 0)
        # the member who was there: blanks filled, name kept, points on her card
        self.assertEqual(
            (self.known.name, self.known.email, self.known.loyalty_points),
            ("Вера Старая", "vera@example.com", 40),
        )
        self.assertEqual(self.known.loyalty_card_id.ledger_ids.entry_type, "opening")
        # the nightly reconciliation finds nothing
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})
        # one message on the batch, no message nor follower on the new members
        imported = batch.message_ids.filtered(lambda m: "Imported" in m.body)
        self.assertEqual(len(imported), 1)
        self.assertIn("3 created, 1 updated", imported.body)
        new = olga + ivan + peter
        for model, records in (
            ("res.partner", new),
            ("loyalty.card", new.loyalty_card_id),
        ):
            domain = [("res_id", "in", records.ids)]
            self.assertFalse(
                self.env["mail.message"].search_count(domain + [("model", "=", model)])
            )
            self.assertFalse(
                self.env["mail.followers"].search_count(
                    domain + [("res_model", "=", model)]
                )
            )
        # the API reads the member and the balance, by card and by phone
        for query in ("card=OLD-0010", "phone=8 916 400-00-10"):
            status, payload = self.api("GET", f"/members/lookup?{query}")
            self.assertEqual(status, 200, payload)
            payload = payload["member"]
            self.assertEqual(payload["id"], olga.id)
            self.assertEqual(payload["card"], {"code": "OLD-0010", "state": "active"})
            self.assertEqual(
                payload["balance"],
                {
                    "available": 1250.5,
                    "pending": 0.0,
                    "debt": 0.0,
                    "expiring": [{"points": 1250.5, "date": FUTURE}],
                },
            )
            self.assertEqual(payload["tier"]["name"], "Серебро")
        # the portal's counter reads the same balance
        self.assertEqual(olga.loyalty_points, 1250.5)

    def test_queries_do_not_grow_with_the_rows(self):
        """New members cost the same statements for 5 rows as for 50."""

        def rows(start, count):
            return _csv(
                [
                    {
                        "name": f"Клиент {i}",
                        "phone": f"+7 916 41{i:05d}",
                        "card": f"Q-{i}",
                        "consent": "да",
                        "consent_date": "01.01.2024",
                        "points": "5",
                        "expiry_date": FUTURE,
                    }
                    for i in range(start, start + count)
                ],
                header=HEADER,
            )

        counts = []
        # the first import of the test fills Odoo's caches: not counted
        for data in (rows(200, 5), rows(0, 5), rows(100, 50)):
            batch = self.Batch.create({"name": "q.csv", "file": base64.b64encode(data)})
            batch.action_check()
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            batch.action_import()
            self.env.flush_all()
            counts.append(self.env.cr.sql_log_count - before)
            self.assertEqual(batch.created_count, 50 if len(counts) == 3 else 5)
        self.assertEqual(counts[1], counts[2], counts)

    # ------------------------------------------------------------ attacks
    def test_hostile_cells(self):
        hostile = {
            2: ({"points": "NaN"}, "Invalid points"),
            3: ({"points": "-1e308"}, "Invalid points"),
            4: ({"points": "1e308"}, "Invalid points"),
            5: ({"points": "inf"}, "Invalid points"),
            6: ({"points": "99999999999999999999"}, "too many"),
            7: ({"points": "-0"}, "Invalid points"),
            8: ({"name": '=HYPERLINK("http://evil","click")'}, "formula"),
            9: ({"city": "=1+2"}, "formula"),
            10: ({"name": "+cmd|' /C calc'!A0"}, "formula"),
            11: ({"occupation": "@SUM(A1)"}, "formula"),
            12: ({"email": "=x@evil.com"}, "formula"),
            13: ({"card": "=A1"}, "Invalid card number"),
            14: ({"phone": "=1+2"}, "Invalid phone"),
            15: ({"card": "OLD-1'); DELETE FROM res_partner; --"}, "Invalid card"),
        }
        rows = [
            {"name": f"Клиент {i}", "phone": f"+7 916 42{i:05d}", "points": "1"}
            for i in range(2, 18)
        ]
        for line, (change, _reason) in hostile.items():
            rows[line - 2].update(change)
        # a name that looks like SQL is only a name
        rows[16 - 2]["name"] = "Robert'); DROP TABLE res_partner; --"
        partners = self.env["res.partner"].search_count([])
        batch = self._import(_csv(rows, header=HEADER))
        report = self._report(batch)
        for line, (_change, reason) in hostile.items():
            self.assertEqual(report[line][1], "Refused", report[line])
            self.assertIn(reason, report[line][2], report[line])
        # the report never hands a formula to a spreadsheet
        self.assertEqual(report[8][3], '\'=HYPERLINK("http://evil","click")')
        self.assertEqual(report[10][3], "'+cmd|' /C calc'!A0")
        self.assertEqual(report[14][4], "'=1+2")
        self.assertEqual(report[16][1], "Created")
        self.assertEqual(report[16][4], "+79164200016")  # a phone stays as it is
        robert = self.env["res.partner"]._loyalty_lookup("+79164200016")
        self.assertEqual(robert.name, "Robert'); DROP TABLE res_partner; --")
        self.assertEqual(
            self.env["res.partner"].search_count([]), partners + 2
        )  # lines 16 and 17
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})

    def test_duplicate_cards_and_phones(self):
        other = self._member(name="Другой", phone="+7 916 430-00-99")
        rows = [
            {"name": "А", "phone": "+7 916 430-00-01", "card": "DUP-1"},
            # the same card again in the file
            {"name": "Б", "phone": "+7 916 430-00-02", "card": "DUP-1"},
            # a card of a member of the base
            {"name": "В", "phone": "+7 916 430-00-03", "card": other.loyalty_card_code},
            # the same phone as line 2, in another notation
            {"name": "Г", "phone": "8 916 430 00 01", "card": "DUP-2"},
            # the phone of a member of the base: that member, updated, not a second
            {
                "name": "Другой Новый",
                "phone": "8 (916) 430-00-99",
                "points": "30",
                "city": "Тверь",
            },
            # that member again in the file
            {"name": "Другой", "phone": "+79164300099", "points": "31"},
        ]
        # chunks of 2 rows: a duplicate is found in a later chunk too (the rows
        # already accepted are kept in the database, not in memory)
        with patch.object(loyalty_import_batch, "CHUNK", 2):
            batch = self._import(_csv(rows, header=HEADER))
        report = self._report(batch)
        self.assertEqual(report[2][1], "Created")
        self.assertIn("already on line 2", report[3][2])
        self.assertIn("belongs to another customer", report[4][2])
        self.assertIn("already on line 2", report[5][2])
        self.assertEqual(report[6][1], "Updated")
        self.assertIn("already on line 6", report[7][2])
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("loyalty_phone", "=", "+79164300099")]
            ),
            1,
        )
        self.assertEqual(
            (other.name, other.city, other.loyalty_points), ("Другой", "Тверь", 30)
        )
        self.assertEqual(
            self.env["loyalty.card"].search_count([("code", "=", "DUP-1")]), 1
        )
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})

    def test_xlsx_streamed_with_typed_cells(self):
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["ФИО", "Телефон", "Карта", "Баллы", "Сгорают", "Дата рождения"])
        # a phone typed as a number, a card number as a number, dates as dates
        sheet.append(
            [
                "Зоя",
                79164440001,
                4600000000028,
                12.5,
                datetime.datetime.fromisoformat(FUTURE),
                datetime.date(1985, 1, 31),
            ]
        )
        sheet.append(["Яна", "+7 916 444-00-02", "Y-2", 7, None, None])
        out = io.BytesIO()
        book.save(out)
        batch = self._import(out.getvalue(), name="старая программа.xlsx")
        self.assertEqual(batch.created_count, 2, self._report(batch))
        zoya = self.env["res.partner"]._loyalty_lookup("4600000000028")
        self.assertEqual(
            (
                zoya.name,
                zoya.loyalty_phone,
                zoya.loyalty_points,
                zoya.loyalty_birthdate,
            ),
            ("Зоя", "+79164440001", 12.5, datetime.date(1985, 1, 31)),
        )
        self.assertEqual(
            zoya.loyalty_card_id.ledger_ids.expiry_date,
            datetime.date.fromisoformat(FUTURE),
        )
        self.assertEqual(
            self.env["res.partner"]._loyalty_lookup("Y-2").loyalty_points, 7
        )
