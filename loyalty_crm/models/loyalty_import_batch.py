"""Bringing an existing bonus program over: members with their questionnaire,
cards, acquisition source, consents and balances, from a CSV or XLSX file.

A batch is checked first (a dry run: every row is *created*, *updated*,
*unchanged* or *refused*, with its reason, in a downloadable report), then
applied. Balances land as ``opening`` entries of the ledger attributed to the
batch (expiry date kept), never as written numbers. Running the same file again
changes nothing. A batch whose points were not spent can be rolled back as a
whole: reversing entries, nothing deleted (members and cards stay).

Rows go by chunks of 1,000, read from the file as a stream. A chunk's new
members are written set-based (:meth:`LoyaltyImportBatch._create_members_sql`:
one statement per table, every column the ORM would store), its updates of
existing members through the ORM, its opening balances through the ledger's bulk
path; the ORM cache is emptied after each chunk.
"""

import base64
import codecs
import contextlib
import csv
import datetime
import hashlib
import io
import itertools
import logging
import math
import re
import tempfile

import openpyxl

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, clean_context

from ..tools import bulk_insert, insert_query, normalize_phone, reserve_ids

_logger = logging.getLogger(__name__)

CHUNK = 1000
READ_BLOCK = 1 << 20
MAX_POINTS = 1e9
CARD_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_./-]{0,63}")
# how a spreadsheet formula starts (a phone "+7 916..." or "-5" is not one)
FORMULA = re.compile(r"\s*(?:[=@\t\r]|[+-](?![\d\s(]))")
# text kept as it is written: never a formula
TEXT_COLUMNS = ("name", "email", "occupation", "city", "source", "medium", "campaign")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Column of the file -> the names it may have in the header (lower case).
COLUMNS = {
    "name": ("name", "имя", "фио", "клиент"),
    "phone": ("phone", "mobile", "телефон", "мобильный"),
    "email": ("email", "e-mail", "почта", "эл. почта"),
    "card": ("card", "card number", "card_number", "карта", "номер карты"),
    "birthdate": ("birthdate", "birth date", "birth_date", "дата рождения"),
    "gender": ("gender", "пол"),
    "marital_status": ("marital status", "marital_status", "семейное положение"),
    "employment": ("employment", "занятость"),
    "occupation": ("occupation", "профессия", "род занятий"),
    "children": ("children", "дети"),
    "city": ("city", "город"),
    "source": ("source", "источник"),
    "medium": ("medium", "канал привлечения"),
    "campaign": ("campaign", "кампания"),
    "consent": ("consent", "согласие"),
    "consent_date": ("consent date", "consent_date", "дата согласия"),
    "consent_channel": ("consent channel", "consent_channel", "канал согласия"),
    "points": ("points", "balance", "баллы", "баланс"),
    "expiry_date": ("expiry date", "expiry_date", "expiry", "сгорают", "срок баллов"),
    "tier": ("tier", "уровень"),
}
CHOICES = {
    "gender": {
        "male": ("male", "m", "м", "муж", "мужской"),
        "female": ("female", "f", "ж", "жен", "женский"),
        "other": ("other", "другой", "другое"),
    },
    "marital_status": {
        "single": ("single", "холост", "не замужем", "холост/не замужем"),
        "married": ("married", "женат", "замужем", "женат/замужем"),
        "divorced": ("divorced", "разведен", "разведена", "в разводе"),
        "widowed": ("widowed", "вдовец", "вдова"),
    },
    "employment": {
        "employed": ("employed", "работает", "по найму"),
        "self_employed": ("self_employed", "self-employed", "самозанятый", "ип"),
        "student": ("student", "студент", "учится"),
        "retired": ("retired", "пенсионер", "на пенсии"),
        "unemployed": ("unemployed", "не работает", "безработный"),
    },
    "consent_channel": {
        "all": ("all", "все", "все каналы", ""),
        "sms": ("sms", "смс"),
        "email": ("email", "e-mail", "почта"),
        "call": ("call", "phone", "звонок"),
    },
}
YES = ("1", "yes", "y", "true", "да", "д", "+")
NO = ("0", "no", "n", "false", "нет", "н", "-")
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M")
QUESTIONNAIRE = {
    # column -> res.partner field
    "name": "name",
    "email": "email",
    "birthdate": "loyalty_birthdate",
    "gender": "loyalty_gender",
    "marital_status": "loyalty_marital_status",
    "employment": "loyalty_employment",
    "occupation": "loyalty_occupation",
    "children": "loyalty_children",
    "city": "city",
}
ACTIONS = [
    ("create", "Created"),
    ("update", "Updated"),
    ("unchanged", "Unchanged"),
    ("refuse", "Refused"),
]


class RowRefused(Exception):
    """A row that cannot be imported, with the reason shown in the report."""


def _norm_header(text):
    return " ".join((text or "").replace("\ufeff", "").strip().lower().split())


def _report_cell(value):
    """A cell of the report as a spreadsheet shows it, never as a formula: text
    from the file that starts like one (``=``, ``@``, ``+``/``-`` then not a
    number) is prefixed with an apostrophe (CSV injection)."""
    if isinstance(value, str) and FORMULA.match(value):
        return "'" + value
    return value


def _choice(column, value):
    value = _norm_header(value)
    for key, names in CHOICES[column].items():
        if value in names:
            return key
    return None


class LoyaltyImportBatch(models.Model):
    _name = "loyalty.import.batch"
    _inherit = ["mail.thread"]
    _description = "Bonus Program Import"
    _order = "id desc"

    name = fields.Char(string="File Name", required=True, readonly=True, default="/")
    file = fields.Binary(attachment=True, required=True)
    file_hash = fields.Char(readonly=True, copy=False)
    program_id = fields.Many2one(
        "loyalty.program",
        string="Bonus Program",
        required=True,
        domain=[("is_bonus_program", "=", True)],
        default=lambda self: self.env["loyalty.program"]._get_bonus_program(),
    )
    company_id = fields.Many2one(related="program_id.company_id", store=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("checked", "Checked"),
            ("done", "Imported"),
            ("rolled_back", "Rolled Back"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
    )
    rows = fields.Integer(readonly=True, copy=False)
    created_count = fields.Integer(string="Created", readonly=True, copy=False)
    updated_count = fields.Integer(string="Updated", readonly=True, copy=False)
    unchanged_count = fields.Integer(string="Unchanged", readonly=True, copy=False)
    refused_count = fields.Integer(string="Refused", readonly=True, copy=False)
    points_total = fields.Float(
        string="Opening Points",
        digits=(16, 2),
        readonly=True,
        copy=False,
        help="Points this batch posts (dry run) or posted as opening balances.",
    )
    report_id = fields.Many2one(
        "ir.attachment", string="Report", readonly=True, copy=False
    )
    report_name = fields.Char(related="report_id.name")
    checked_date = fields.Datetime(string="Checked On", readonly=True, copy=False)
    imported_date = fields.Datetime(string="Imported On", readonly=True, copy=False)
    imported_uid = fields.Many2one("res.users", string="Imported By", readonly=True)
    rollback_date = fields.Datetime(string="Rolled Back On", readonly=True, copy=False)
    rollback_uid = fields.Many2one("res.users", string="Rolled Back By", readonly=True)
    ledger_ids = fields.One2many(
        "loyalty.ledger",
        "res_id",
        domain=[("res_model", "=", "loyalty.import.batch")],
        string="Ledger Entries",
        readonly=True,
    )

    # ------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        self._check_manager()
        return super().create(vals_list)

    def write(self, vals):
        self._check_manager()
        if "file" in vals and self.filtered(
            lambda b: b.state in ("done", "rolled_back")
        ):
            raise UserError(_("The file of an imported batch cannot be changed."))
        if "file" in vals:
            vals = dict(vals, state="draft", file_hash=False)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_imported(self):
        if self.filtered(lambda b: b.state in ("done", "rolled_back")):
            raise UserError(
                _("An imported batch is the source of ledger entries: keep it.")
            )

    def _check_manager(self):
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(_("Only a Loyalty Manager can import members."))

    # ------------------------------------------------------------ actions
    def action_check(self):
        """Dry run: the report of what the file would do; nothing is written."""
        self.ensure_one()
        self._check_manager()
        if self.state in ("done", "rolled_back"):
            raise UserError(_("This batch was already imported."))
        self._run(apply=False)
        return True

    def action_import(self):
        self.ensure_one()
        self._check_manager()
        if self.state != "checked" or self.file_hash != self._file_hash():
            raise UserError(_("Check the file (dry run) before importing it."))
        self._run(apply=True)
        return True

    def action_rollback(self):
        self.ensure_one()
        self._check_manager()
        self._rollback()
        return True

    def action_download_report(self):
        self.ensure_one()
        if not self.report_id:
            raise UserError(_("Check the file first."))
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.report_id.id}?download=true",
            "target": "self",
        }

    def action_open_ledger(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "loyalty_crm.loyalty_ledger_action"
        )
        action["domain"] = [
            ("res_model", "=", self._name),
            ("res_id", "=", self.id),
        ]
        action["context"] = {}
        return action

    # ------------------------------------------------------------ reading
    def _file_hash(self):
        digest = hashlib.sha256()
        with self._open_file() as stream:
            for block in iter(lambda: stream.read(READ_BLOCK), b""):
                digest.update(block)
        return digest.hexdigest()

    def _file_bytes(self):
        self.ensure_one()
        data = self.with_context(bin_size=False).file
        return base64.b64decode(data or b"")

    @contextlib.contextmanager
    def _open_file(self):
        """The file as a binary stream, read from the attachment's file in the
        filestore (memory flat, whatever its size), or from the database."""
        self.ensure_one()
        self.env.flush_all()
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("res_field", "=", "file"),
                ],
                limit=1,
            )
        )
        if attachment.store_fname:
            with open(attachment._full_path(attachment.store_fname), "rb") as stream:
                yield stream
        else:
            yield io.BytesIO(attachment.raw or self._file_bytes())

    def _read_rows(self, stream):
        """``(line number, [cells])`` of the file, header included, streamed:
        memory stays flat whatever the number of rows.

        CSV is decoded and read line by line; XLSX by openpyxl in read-only
        mode (row by row, cells converted as Odoo's own import does); the older
        spreadsheets (XLS, ODS) by Odoo's import (``base_import``), whole.
        """
        name = (self.name or "").lower()
        head = stream.read(4)
        stream.seek(0)
        if name.endswith(".xlsx") or (head[:2] == b"PK" and not name.endswith(".ods")):
            yield from self._read_xlsx(stream)
            return
        if name.endswith((".xls", ".ods")) or head == b"\xd0\xcf\x11\xe0":
            yield from self._read_spreadsheet(stream.read())
            return
        encoding = self._encoding(stream)
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        first = text.readline()
        delimiter = max(";,\t|", key=first.count)
        reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield reader.line_num, row
        except csv.Error as error:
            raise UserError(
                _(
                    "The file cannot be read at line %(line)s: %(error)s",
                    line=reader.line_num,
                    error=error,
                )
            ) from error

    def _read_xlsx(self, stream):
        try:
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable workbook
            raise UserError(
                _("The file cannot be read: %(error)s", error=error)
            ) from error
        try:
            sheet = book.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(), 1):
                cells = [self._xlsx_cell(cell, number) for cell in row]
                if any(cell.strip() for cell in cells):
                    yield number, cells
        finally:
            book.close()

    def _xlsx_cell(self, cell, number):
        """A cell as text, the way ``base_import`` reads it: whole numbers
        without ``.0``, dates as ``YYYY-MM-DD`` (with the time if it has one)."""
        value = getattr(cell, "value", None)
        if value is None:
            return ""
        if getattr(cell, "data_type", None) == "e":
            raise UserError(
                _(
                    "Invalid cell value at row %(row)s: %(value)s",
                    row=number,
                    value=value,
                )
            )
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            if math.isfinite(value) and value % 1 == 0:
                return str(int(value))
            return str(value)
        if isinstance(value, datetime.datetime):
            if value.time() == datetime.time():
                return value.strftime("%Y-%m-%d")
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, datetime.date):
            return value.strftime("%Y-%m-%d")
        return str(value)

    def _read_spreadsheet(self, data):
        importer = self.env["base_import.import"].create(
            {"file": data, "file_name": self.name, "file_type": ""}
        )
        options = {"quoting": '"', "separator": ",", "has_headers": True}
        try:
            _length, rows = importer._read_file(options)
        except (ValueError, UserError) as error:
            raise UserError(
                _("The file cannot be read: %(error)s", error=error)
            ) from error
        for number, row in enumerate(rows, 1):
            yield number, [str(cell) for cell in row]

    @staticmethod
    def _encoding(stream):
        """UTF-8 (with or without its BOM), else Windows-1251 (spreadsheets saved
        as CSV by a Russian Windows): the whole stream is checked block by block."""
        if stream.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            return "utf-8-sig"
        stream.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: stream.read(READ_BLOCK), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1251"
        finally:
            stream.seek(0)
        return "utf-8"

    def _header(self, cells):
        """``{column: index}``; unknown headers ignored, name and phone required."""
        index = {}
        for position, cell in enumerate(cells):
            header = _norm_header(cell)
            for column, names in COLUMNS.items():
                if header in names and column not in index:
                    index[column] = position
        missing = [c for c in ("name", "phone") if c not in index]
        if missing:
            raise UserError(
                _(
                    "The first line must name the columns; %(missing)s missing. "
                    "Columns: %(columns)s.",
                    missing=", ".join(missing),
                    columns=", ".join(COLUMNS),
                )
            )
        return index

    # ------------------------------------------------------------ parsing
    def _parse_row(self, cells, index, region):
        """The row's values, cleaned; raises RowRefused with the reason."""

        def cell(column):
            position = index.get(column)
            if position is None or position >= len(cells):
                return ""
            return (cells[position] or "").strip()

        row = {column: cell(column) for column in COLUMNS}
        if not row["name"]:
            raise RowRefused(_("The name is missing."))
        self._check_no_formula(row)
        if not row["phone"]:
            raise RowRefused(_("The phone is missing."))
        try:
            row["phone"] = normalize_phone(row["phone"], region)
        except ValueError as error:
            raise RowRefused(
                _("Invalid phone %(phone)s.", phone=row["phone"])
            ) from error
        if row["email"] and not EMAIL.fullmatch(row["email"]):
            raise RowRefused(_("Invalid email %(email)s.", email=row["email"]))
        if row["card"] and not CARD_CODE.fullmatch(row["card"]):
            raise RowRefused(
                _(
                    "Invalid card number %(card)s: letters, digits and - _ . / only, "
                    "up to 64 characters, no spaces.",
                    card=row["card"],
                )
            )
        for column in ("gender", "marital_status", "employment"):
            if row[column]:
                value = _choice(column, row[column])
                if not value:
                    raise RowRefused(
                        _(
                            "Unknown value %(value)s in column %(column)s.",
                            value=row[column],
                            column=column,
                        )
                    )
                row[column] = value
        if row["children"]:
            if not row["children"].isdigit():
                raise RowRefused(
                    _(
                        "Children must be a number, not %(value)s.",
                        value=row["children"],
                    )
                )
            row["children"] = str(min(int(row["children"]), 3))
        today = fields.Date.context_today(self)
        row["birthdate"] = self._parse_date(row["birthdate"], "birthdate")
        if row["birthdate"] and not (
            datetime.date(1900, 1, 1) <= row["birthdate"] <= today
        ):
            raise RowRefused(
                _("Impossible birth date %(date)s.", date=row["birthdate"])
            )
        row["consent"] = self._parse_consent(row)
        row["points"] = self._parse_points(row["points"])
        row["expiry_date"] = self._parse_date(row["expiry_date"], "expiry_date")
        if row["expiry_date"] and row["expiry_date"] <= today:
            raise RowRefused(
                _(
                    "The points expired on %(date)s: they are not imported.",
                    date=row["expiry_date"],
                )
            )
        if row["expiry_date"] and not row["points"]:
            raise RowRefused(_("An expiry date without points."))
        return row

    def _check_no_formula(self, row):
        for column in TEXT_COLUMNS:
            if FORMULA.match(row[column]):
                raise RowRefused(
                    _(
                        "Column %(column)s holds a spreadsheet formula, not a "
                        "value: %(value)s.",
                        column=column,
                        value=row[column],
                    )
                )

    def _parse_date(self, value, column, with_time=False):
        if not value:
            return None
        for fmt in DATE_FORMATS:
            try:
                parsed = datetime.datetime.strptime(value, fmt)
            except ValueError:
                continue
            return parsed if with_time else parsed.date()
        raise RowRefused(
            _(
                "Invalid date %(value)s in column %(column)s (YYYY-MM-DD or "
                "DD.MM.YYYY).",
                value=value,
                column=column,
            )
        )

    def _parse_consent(self, row):
        value = _norm_header(row["consent"])
        if not value:
            if row["consent_date"] or row["consent_channel"]:
                raise RowRefused(_("A consent date or channel without the consent."))
            return None
        if value in YES:
            given = "opt_in"
        elif value in NO:
            given = "opt_out"
        else:
            raise RowRefused(
                _("Consent must be yes or no, not %(value)s.", value=row["consent"])
            )
        channel = _choice("consent_channel", row["consent_channel"])
        if channel is None:
            raise RowRefused(
                _("Unknown consent channel %(value)s.", value=row["consent_channel"])
            )
        if not row["consent_date"]:
            raise RowRefused(_("The consent has no date: when was it given?"))
        date = self._parse_date(row["consent_date"], "consent_date", with_time=True)
        if date > datetime.datetime.now():
            raise RowRefused(_("The consent date is in the future."))
        return {"consent": given, "channel": channel, "date": date}

    def _parse_points(self, value):
        if not value:
            return 0.0
        text = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not re.fullmatch(r"\d+(\.\d{1,2})?", text):
            raise RowRefused(
                _(
                    "Invalid points %(value)s: a positive number with at most 2 "
                    "decimals.",
                    value=value,
                )
            )
        points = float(text)
        if points > MAX_POINTS:
            raise RowRefused(_("%(value)s points is too many.", value=value))
        return points

    # ------------------------------------------------------------ the run
    def _run(self, apply):
        """Check every row (and, when ``apply``, write it) chunk by chunk."""
        self.ensure_one()
        if not self.file:
            raise UserError(_("Choose a file to import."))
        with self._open_file() as stream:
            rows = self._read_rows(stream)
            try:
                return self._run_rows(rows, apply)
            finally:
                rows.close()

    def _run_rows(self, rows, apply):
        program = self.program_id
        region = self.company_id.loyalty_phone_region or "RU"
        try:
            _line, header = next(rows)
        except StopIteration as error:
            raise UserError(_("The file is empty.")) from error
        index = self._header(header)
        # the phones and cards of the rows already accepted, with their line: in a
        # temporary table, each chunk reads the ones it needs (memory stays flat)
        self.env.cr.execute(
            """
            CREATE TEMPORARY TABLE IF NOT EXISTS loyalty_import_seen (
                kind char(1), value varchar, line integer, PRIMARY KEY (kind, value))
            """
        )
        self.env.cr.execute("TRUNCATE loyalty_import_seen")
        context = {
            "seen_phones": {},
            "seen_cards": {},
            "sources": {},
            "tiers": {
                _norm_header(t.name): t
                for t in program.tier_ids.with_context(lang="en_US")
            }
            | {_norm_header(t.name): t for t in program.tier_ids},
        }
        # the report goes to a temporary file chunk by chunk, not to memory
        report = tempfile.TemporaryFile(mode="w+", encoding="utf-8-sig", newline="")
        writer = csv.writer(report)
        writer.writerow(
            [
                _("Line"),
                _("Result"),
                _("Reason"),
                _("Name"),
                _("Phone"),
                _("Card"),
                _("Points"),
            ]
        )
        counts = dict.fromkeys(("create", "update", "unchanged", "refuse"), 0)
        points_total = 0.0
        chunk = []
        labels = {
            "create": _("Created"),
            "update": _("Updated"),
            "unchanged": _("Unchanged"),
            "refuse": _("Refused"),
        }

        def flush():
            nonlocal points_total
            for result in self._process_chunk(chunk, index, region, context, apply):
                counts[result["action"]] += 1
                points_total += result.get("posted", 0.0)
                writer.writerow(
                    [
                        result["line"],
                        labels[result["action"]],
                        result.get("reason", ""),
                        _report_cell(result.get("name", "")),
                        _report_cell(result.get("phone", "")),
                        _report_cell(result.get("card", "")),
                        result.get("posted") or "",
                    ]
                )
            chunk.clear()
            # memory flat: the ORM forgets each chunk's records
            self.env.flush_all()
            self.env.invalidate_all()

        for line, cells in rows:
            chunk.append((line, cells))
            if len(chunk) >= CHUNK:
                flush()
        flush()
        stamp = fields.Datetime.now()
        report_name = _(
            "%(file)s - %(kind)s %(date)s.csv",
            file=self.name,
            kind=_("import") if apply else _("check"),
            date=fields.Datetime.to_string(stamp)[:16].replace(":", "-"),
        )
        report.seek(0)
        with report:
            raw = report.buffer.read()
        attachment = self.env["ir.attachment"].create(
            {
                "name": report_name,
                "raw": raw,
                "mimetype": "text/csv",
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        vals = {
            "rows": sum(counts.values()),
            "created_count": counts["create"],
            "updated_count": counts["update"],
            "unchanged_count": counts["unchanged"],
            "refused_count": counts["refuse"],
            "points_total": points_total,
            "report_id": attachment.id,
        }
        if apply:
            vals.update(
                state="done", imported_date=stamp, imported_uid=self.env.user.id
            )
        else:
            vals.update(
                state="checked", checked_date=stamp, file_hash=self._file_hash()
            )
        super().write(vals)
        if apply:
            self.message_post(
                body=_(
                    "Imported: %(created)s created, %(updated)s updated, "
                    "%(unchanged)s unchanged, %(refused)s refused; %(points)s "
                    "opening points.",
                    created=counts["create"],
                    updated=counts["update"],
                    unchanged=counts["unchanged"],
                    refused=counts["refuse"],
                    points=points_total,
                )
            )
        self.env.cr.execute("DROP TABLE IF EXISTS loyalty_import_seen")
        return counts

    def _process_chunk(self, chunk, index, region, context, apply):  # noqa: C901
        """Results of a chunk of rows (and, when ``apply``, their writes).

        The chunk's members, cards, opening balances and consents already in
        the database are read in a handful of queries, whatever its size.
        """
        results, accepted = [], []
        for line, cells in chunk:
            try:
                row = self._parse_row(cells, index, region)
            except RowRefused as error:
                results.append(self._refused(line, cells, index, error.args[0]))
                continue
            row["line"] = line
            accepted.append(row)
        if not accepted:
            return results
        program = self.program_id
        phones = tuple({row["phone"] for row in accepted})
        codes = tuple({row["card"] for row in accepted if row["card"]}) or ("",)
        self.env.flush_all()
        seen = {"p": {}, "c": {}}
        for kind, value, line in self.env.execute_query(
            SQL(
                "SELECT kind, value, line FROM loyalty_import_seen"
                " WHERE (kind = 'p' AND value IN %s) OR (kind = 'c' AND value IN %s)",
                phones,
                codes,
            )
        ):
            seen[kind][value] = line
        context["seen_phones"], context["seen_cards"] = seen["p"], seen["c"]
        chunk_seen = []
        members = {
            phone: (partner_id, active)
            for phone, partner_id, active in self.env.execute_query(
                SQL(
                    "SELECT loyalty_phone, id, active FROM res_partner"
                    " WHERE loyalty_phone IN %s",
                    phones,
                )
            )
        }
        cards_by_code = {
            code: (card_id, partner_id, program_id)
            for code, card_id, partner_id, program_id in self.env.execute_query(
                SQL(
                    "SELECT code, id, partner_id, program_id FROM loyalty_card"
                    " WHERE code IN %s",
                    codes,
                )
            )
        }
        partner_ids = tuple(pid for pid, _active in members.values()) or (0,)
        member_cards = {
            partner_id: (card_id, code, state)
            for partner_id, card_id, code, state in self.env.execute_query(
                SQL(
                    """
                    SELECT DISTINCT ON (partner_id) partner_id, id, code, loyalty_state
                      FROM loyalty_card
                     WHERE partner_id IN %s AND program_id = %s AND active
                       AND loyalty_state IN ('issued', 'active', 'blocked')
                  ORDER BY partner_id, id DESC
                    """,
                    partner_ids,
                    program.id,
                )
            )
        }
        card_ids = tuple(c[0] for c in member_cards.values()) or (0,)
        openings = {
            card_id: (float(points), batch_id)
            for card_id, points, batch_id in self.env.execute_query(
                SQL(
                    """
                    SELECT l.card_id, l.points, l.res_id FROM loyalty_ledger l
                     WHERE l.card_id IN %s AND l.entry_type = 'opening'
                       AND NOT EXISTS (
                           SELECT 1 FROM loyalty_ledger r
                            WHERE r.counterpart_id = l.id AND r.entry_type = 'reversal')
                    """,
                    card_ids,
                )
            )
        }
        consents = {
            (partner_id, consent, channel, date)
            for partner_id, consent, channel, date in self.env.execute_query(
                SQL(
                    "SELECT partner_id, consent, channel, date FROM loyalty_consent"
                    " WHERE partner_id IN %s AND purpose = 'marketing'",
                    partner_ids,
                )
            )
        }
        # the chunk's members are read together, whichever row reads one first
        Partner = self.env["res.partner"].with_prefetch(
            tuple(pid for pid, _active in members.values())
        )
        to_create, to_update, to_post, to_consent, to_tier = [], [], [], [], []
        for row in accepted:
            try:
                result = self._decide(
                    row,
                    context,
                    members,
                    cards_by_code,
                    member_cards,
                    openings,
                    consents,
                    Partner,
                )
            except RowRefused as error:
                results.append(
                    dict(self._summary(row), action="refuse", reason=error.args[0])
                )
                continue
            context["seen_phones"][row["phone"]] = row["line"]
            chunk_seen.append(("p", row["phone"], row["line"]))
            if row["card"]:
                context["seen_cards"][row["card"]] = row["line"]
                chunk_seen.append(("c", row["card"], row["line"]))
            results.append(result)
            plan = result.pop("plan")
            if plan.get("create"):
                to_create.append((result, row, plan))
            elif plan.get("write"):
                to_update.append((plan["partner"], plan["write"]))
            if plan.get("consent"):
                to_consent.append(plan)
            if plan.get("tier"):
                to_tier.append(plan)
            if plan.get("points"):
                to_post.append(plan)
        if chunk_seen:
            self.env.execute_query(
                SQL(
                    "INSERT INTO loyalty_import_seen (kind, value, line) VALUES %s",
                    SQL(", ").join(chunk_seen),
                )
            )
        if apply:
            self._apply(context, to_create, to_update, to_consent, to_tier, to_post)
        results.sort(key=lambda r: r["line"])
        return results

    def _summary(self, row):
        return {
            "line": row["line"],
            "name": row["name"],
            "phone": row["phone"],
            "card": row["card"],
        }

    def _refused(self, line, cells, index, reason):
        def cell(column):
            position = index.get(column)
            return (
                cells[position].strip()
                if position is not None and position < len(cells)
                else ""
            )

        return {
            "line": line,
            "action": "refuse",
            "reason": reason,
            "name": cell("name"),
            "phone": cell("phone"),
            "card": cell("card"),
        }

    def _utm(self, model, name, context):
        """The UTM record named ``name`` (created when the batch is applied)."""
        if not name:
            return self.env[model]
        key = (model, name.lower())
        if key not in context["sources"]:
            record = self.env[model].search([("name", "=ilike", name)], limit=1)
            context["sources"][key] = record.id or name
        value = context["sources"][key]
        return self.env[model].browse(value) if isinstance(value, int) else value

    def _decide(  # noqa: C901 - one rule per refusal, in the order of the report
        self,
        row,
        context,
        members,
        cards_by_code,
        member_cards,
        openings,
        consents,
        Partner,
    ):
        phone, code = row["phone"], row["card"]
        if phone in context["seen_phones"]:
            raise RowRefused(
                _(
                    "Phone %(phone)s is already on line %(line)s of the file.",
                    phone=phone,
                    line=context["seen_phones"][phone],
                )
            )
        if code and code in context["seen_cards"]:
            raise RowRefused(
                _(
                    "Card %(card)s is already on line %(line)s of the file.",
                    card=code,
                    line=context["seen_cards"][code],
                )
            )
        tier = None
        if row["tier"]:
            tier = context["tiers"].get(_norm_header(row["tier"]))
            if not tier:
                raise RowRefused(
                    _(
                        "Unknown tier %(tier)s (the program has: %(tiers)s).",
                        tier=row["tier"],
                        tiers=", ".join(self.program_id.tier_ids.mapped("name"))
                        or _("no tiers"),
                    )
                )
        plan = {}
        result = dict(self._summary(row))
        member = members.get(phone)
        vals = {
            field: row[column] for column, field in QUESTIONNAIRE.items() if row[column]
        }
        for column, model, field in (
            ("source", "utm.source", "loyalty_source_id"),
            ("medium", "utm.medium", "loyalty_medium_id"),
            ("campaign", "utm.campaign", "loyalty_campaign_id"),
        ):
            if row[column]:
                vals[field] = self._utm(model, row[column], context)
        kept = []
        if member:
            partner_id, active = member
            if not active:
                raise RowRefused(
                    _("Phone %(phone)s belongs to an archived contact.", phone=phone)
                )
            card = member_cards.get(partner_id)
            if not card:
                raise RowRefused(
                    _(
                        "Phone %(phone)s belongs to a member of another bonus program.",
                        phone=phone,
                    )
                )
            card_id, card_code, card_state = card
            if code and code != card_code:
                raise RowRefused(
                    _(
                        "The member with phone %(phone)s already has card %(card)s.",
                        phone=phone,
                        card=card_code,
                    )
                )
            partner = Partner.browse(partner_id).with_prefetch(Partner._prefetch_ids)
            write = {}
            for field, value in vals.items():
                current = partner[field]
                if isinstance(current, models.BaseModel):
                    if not current:
                        write[field] = value
                    elif current != value:
                        kept.append(field)
                elif not current:
                    write[field] = value
                elif current != value:
                    kept.append(field)
            result.update(card=card_code, action="unchanged")
            plan.update(partner=partner, card_id=card_id)
            if write:
                plan["write"] = write
            if row["points"] and card_state == "blocked":
                raise RowRefused(
                    _("Card %(card)s is blocked: it takes no points.", card=card_code)
                )
            opening = openings.get(card_id)
            if row["points"] and opening:
                if abs(opening[0] - row["points"]) >= 0.005:
                    raise RowRefused(
                        _(
                            "A balance of %(points)s points was already imported on "
                            "card %(card)s (batch %(batch)s): roll that batch back "
                            "first.",
                            points=opening[0],
                            card=card_code,
                            batch=opening[1],
                        )
                    )
            elif row["points"]:
                plan["points"] = row["points"]
            if tier and partner.loyalty_tier_id != tier:
                plan["tier"] = tier
            consent = row["consent"]
            if (
                consent
                and (
                    partner_id,
                    consent["consent"],
                    consent["channel"],
                    consent["date"],
                )
                not in consents
            ):
                plan["consent"] = consent
            if {"write", "points", "tier", "consent"} & set(plan):
                result["action"] = "update"
        else:
            if code and code in cards_by_code:
                raise RowRefused(
                    _("Card %(card)s belongs to another customer.", card=code)
                )
            result["action"] = "create"
            plan.update(
                create=dict(vals, phone=phone),
                consent=row["consent"],
                tier=tier,
                points=row["points"],
            )
        plan["expiry_date"] = row["expiry_date"]
        reasons = []
        if plan.get("write"):
            # members are updated without chatter tracking: the report says what
            labels = [
                Partner._fields[f]._description_string(self.env) for f in plan["write"]
            ]
            reasons.append(_("Filled in: %(fields)s.", fields=", ".join(labels)))
        if kept:
            labels = [Partner._fields[f]._description_string(self.env) for f in kept]
            reasons.append(
                _(
                    "Kept the values already recorded for: %(fields)s.",
                    fields=", ".join(labels),
                )
            )
        if reasons:
            result["reason"] = " ".join(reasons)
        if plan.get("points"):
            result["posted"] = plan["points"]
        result["plan"] = plan
        return result

    # ------------------------------------------------------------ writing
    def _resolve_utm(self, vals, context):
        vals = dict(vals)
        for field, model in (
            ("loyalty_source_id", "utm.source"),
            ("loyalty_medium_id", "utm.medium"),
            ("loyalty_campaign_id", "utm.campaign"),
        ):
            value = vals.get(field)
            if isinstance(value, str):
                key = (model, value.lower())
                if not isinstance(context["sources"].get(key), int):
                    context["sources"][key] = (
                        self.env["utm.mixin"]._find_or_create_record(model, value).id
                    )
                value = self.env[model].browse(context["sources"][key])
            if value is not None and field in vals:
                vals[field] = value.id
        return vals

    def _apply(self, context, to_create, to_update, to_consent, to_tier, to_post):
        """Write a chunk's decisions: new members set-based (or through the ORM,
        ``loyalty_import_orm`` in the context: the reference the equivalence test
        compares with), the updates of existing members through the ORM, then
        every opening balance through the ledger's set-based path."""
        if to_create:
            if self.env.context.get("loyalty_import_orm"):
                self._create_members_orm(context, to_create)
            else:
                self._create_members_sql(context, to_create)
                # their consents and tiers went in with them
                to_consent = [plan for plan in to_consent if "create" not in plan]
                to_tier = [plan for plan in to_tier if "create" not in plan]
        # members given the same values are written together: one write each
        groups = {}
        for partner, vals in to_update:
            vals = self._resolve_utm(vals, context)
            key = tuple(sorted(vals.items()))
            groups.setdefault(key, (vals, []))[1].append(partner.id)
        Partner = self.env["res.partner"].with_context(
            tracking_disable=True, mail_notrack=True
        )
        for vals, ids in groups.values():
            Partner.browse(ids).write(vals)
        self._record_consents(to_consent)
        self._set_tiers(to_tier)
        if to_post:
            self._post_openings(to_post)

    def _consent_vals(self, plan, note):
        program = self.program_id
        return {
            "partner_id": plan["partner"].id,
            "purpose": "marketing",
            "consent": plan["consent"]["consent"],
            "channel": plan["consent"]["channel"],
            "date": plan["consent"]["date"],
            "source": "import",
            "company_id": program.company_id.id or self.env.company.id,
            "note": note,
        }

    def _record_consents(self, plans):
        if plans:
            note = _("Import %(file)s", file=self.name)
            self.env["loyalty.consent"]._record_imported(
                [self._consent_vals(plan, note) for plan in plans]
            )

    @staticmethod
    def _tier_history_vals(partner_id, old_tier, new_tier):
        return {
            "partner_id": partner_id,
            "old_tier_id": old_tier.id,
            "new_tier_id": new_tier.id,
            "direction": "up" if new_tier.min_spend > old_tier.min_spend else "down",
        }

    def _set_tiers(self, plans):
        history = []
        for plan in plans:
            partner, tier = plan["partner"], plan["tier"]
            history.append(
                self._tier_history_vals(partner.id, partner.loyalty_tier_id, tier)
            )
            partner.sudo().with_context(
                tracking_disable=True, mail_notrack=True
            ).loyalty_tier_id = tier
        if history:
            self.env["loyalty.tier.history"].sudo().create(history)

    def _create_members_orm(self, context, to_create):
        """New members through the ORM (``create`` of each model, every override
        and compute of the installed modules): the reference of the set-based
        path, kept for the equivalence test."""
        Partner = self.env["res.partner"].with_context(
            tracking_disable=True,
            mail_create_nolog=True,
            mail_create_nosubscribe=True,
            mail_notrack=True,
        )
        program = self.program_id
        # the defaults once per chunk, not once per member (some are queries)
        defaults = Partner.default_get(list(Partner._fields))
        partners = Partner.create(
            [
                dict(
                    defaults,
                    **self._resolve_utm(plan["create"], context),
                    company_id=False,
                )
                for _result, _row, plan in to_create
            ]
        )
        for (_result, _row, plan), partner in zip(to_create, partners, strict=True):
            plan["partner"] = partner
        cards = (
            self.env["loyalty.card"]
            .sudo()
            .with_context(loyalty_no_mail=True, tracking_disable=True)
            .create(
                [
                    dict(
                        {
                            "program_id": program.id,
                            "partner_id": plan["partner"].id,
                            "loyalty_state": "active",
                        },
                        **({"code": row["card"]} if row["card"] else {}),
                    )
                    for _result, row, plan in to_create
                ]
            )
        )
        for (result, _row, plan), card in zip(to_create, cards, strict=True):
            plan["card_id"] = card.id
            result["card"] = card.code
        codes = [p._loyalty_new_referral_code() for p in partners]
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                """
                UPDATE res_partner p SET loyalty_referral_code = v.code
                  FROM unnest(%s::int[], %s::varchar[]) AS v(id, code)
                 WHERE p.id = v.id
                """,
                partners.ids,
                codes,
            )
        )
        partners.invalidate_recordset(["loyalty_referral_code"])

    def _create_members_sql(self, context, to_create):
        """New members of a chunk, set-based: a handful of statements whatever
        the chunk's size, with what the ORM would have stored.

        - partners and their cards in one statement, consents and tier history
          in one ``INSERT`` each (:func:`..tools.bulk_insert`: defaults, who and
          when, columns converted by the fields); ids reserved first, so a
          partner's card, referral code and commercial partner and a card's
          member are known before the insert;
        - the partners' stored computed fields from
          :meth:`res.partner._loyalty_new_member_vals` (a field of another module
          is recomputed by the ORM in batch at the flush);
        - no followers, messages or tracking per member (as the ORM path with
          its ``mail_create_nolog`` / ``tracking_disable`` context), no card
          creation mail: the batch's own message tells what was imported.
        """
        env = self.env
        program = self.program_id
        Partner = env["res.partner"]
        Partner.check_access("create")
        Card = env["loyalty.card"].sudo()
        count = len(to_create)
        partner_ids = reserve_ids(env, "res_partner", count)
        card_ids = reserve_ids(env, "loyalty_card", count)
        new_codes = iter(
            Card._loyalty_generate_card_codes(
                sum(1 for _result, row, _plan in to_create if not row["card"])
            )
        )
        now = env.cr.now()
        activation = fields.Datetime.now()
        note = _("Import %(file)s", file=self.name)
        partners, cards, consents, history = [], [], [], []
        for (result, row, plan), partner_id, card_id in zip(
            to_create, partner_ids, card_ids, strict=True
        ):
            consent = plan["consent"]
            tier = plan["tier"]
            vals = dict(self._resolve_utm(plan["create"], context), company_id=False)
            if tier:
                vals["loyalty_tier_id"] = tier.id
            given = (
                [("marketing", consent["channel"], consent["consent"], consent["date"])]
                if consent
                else []
            )
            vals = Partner._loyalty_new_member_vals(vals, partner_id, given)
            # the card (inserted with the member), its date the membership's
            vals.update(loyalty_card_id=card_id, loyalty_member_since=now)
            partners.append(vals)
            code = row["card"] or next(new_codes)
            cards.append(
                {
                    "id": card_id,
                    "program_id": program.id,
                    "partner_id": partner_id,
                    "code": code,
                    "loyalty_state": "active",
                    "activation_date": activation,
                    "company_id": program.company_id.id,
                    "is_bonus_card": program.is_bonus_program,
                }
            )
            plan["partner"] = Partner.browse(partner_id)
            plan["card_id"] = card_id
            result["card"] = code
            if consent:
                consents.append(self._consent_vals(plan, note))
            if tier:
                history.append(
                    self._tier_history_vals(partner_id, env["loyalty.tier"], tier)
                )
        # a member and their card refer to each other: one statement, the
        # foreign keys checked at its end; the defaults are the models', not the
        # caller's default_* keys
        clean = env(context=clean_context(env.context))
        insert_partners, partners_done = insert_query(Partner.with_env(clean), partners)
        insert_cards, cards_done = insert_query(Card.with_env(clean).sudo(), cards)
        env.flush_all()
        env.execute_query(
            SQL("WITH partners AS (%s) %s", insert_partners, insert_cards)
        )
        partners_done(partner_ids)
        cards_done(card_ids)
        env["loyalty.consent"]._record_imported(consents, in_sql=True)
        bulk_insert(env["loyalty.tier.history"].sudo(), history)
        # nothing read before of these tables (nor of the one2many fields that
        # list their rows: a program's cards, a tier's members) is current
        env.flush_all()
        env.invalidate_all()

    def _post_openings(self, plans):
        """The chunk's opening balances: one ledger entry per card, through the
        ledger's bulk path (:meth:`loyalty.ledger._post_bulk`, as the nightly jobs
        do, set-based: one insert, one balance update): the cards are locked in id
        order, an opening already posted (same key) is skipped, balances synced,
        debts paid back. Entries are built by
        :meth:`loyalty.ledger._entry_vals`, the rules of every posting; an opening
        without its own expiry date follows the program's policy."""
        Ledger = self.env["loyalty.ledger"]
        Card = self.env["loyalty.card"]
        default_expiry = self.program_id._loyalty_expiry_date() or False
        reason = _("Opening balance, import %(file)s", file=self.name)
        Ledger._post_bulk(
            [
                Ledger._entry_vals(
                    Card.browse(plan["card_id"]),
                    plan["points"],
                    "opening",
                    state="available",
                    expiry_date=plan["expiry_date"] or default_expiry,
                    reason=reason,
                    source=self,
                    idempotency_key=f"loyalty.import.batch/{self.id}/{plan['card_id']}",
                )
                for plan in sorted(plans, key=lambda plan: plan["card_id"])
            ],
            in_sql=True,
        )

    # ------------------------------------------------------------ rollback
    def _rollback(self):
        """Reverse every opening balance of the batch, if none of it was spent.

        The cards are locked first, so no till or API call can spend the
        points between the check and the reversal. Members and cards stay
        (contact data is never lost); their points leave through ``reversal``
        entries, the openings stay in the ledger.
        """
        self.ensure_one()
        if self.state != "done":
            raise UserError(_("Only an imported batch can be rolled back."))
        Ledger = self.env["loyalty.ledger"]
        openings = Ledger.sudo().search(
            [
                ("res_model", "=", self._name),
                ("res_id", "=", self.id),
                ("entry_type", "=", "opening"),
            ],
            order="id",
        )
        cards = openings.card_id
        if cards:
            Ledger._lock_cards(cards)
        still_open = (
            {lot_id: points for lot_id, _card, points, _exp in Ledger._open_lots(cards)}
            if cards
            else {}
        )
        spent = openings.filtered(
            lambda e: round(still_open.get(e.id, 0.0) - e.points, 2) < 0
        )
        if spent:
            raise UserError(
                _(
                    "Points of this import were already spent or expired on "
                    "%(count)s cards (%(cards)s): it cannot be rolled back.",
                    count=len(spent.card_id),
                    cards=", ".join(spent.card_id[:10].mapped("code")),
                )
            )
        for entry in openings:
            Ledger._post(
                entry.card_id,
                -entry.points,
                "reversal",
                reason=_("Import %(file)s rolled back", file=self.name),
                source=self,
                counterpart=entry,
                idempotency_key=f"loyalty.import.batch/{self.id}/rollback/{entry.id}",
                allow_inactive=True,
            )
        super().write(
            {
                "state": "rolled_back",
                "rollback_date": fields.Datetime.now(),
                "rollback_uid": self.env.user.id,
            }
        )
        self.message_post(
            body=_(
                "Rolled back: %(points)s opening points reversed on %(cards)s cards.",
                points=sum(openings.mapped("points")),
                cards=len(cards),
            )
        )
        return openings
