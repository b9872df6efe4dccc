"""Faults on real PostgreSQL and real Odoo: serialization failures, a dropped
database connection during a POS order sync, and message providers that fail.

These tests commit on purpose (other cursors and threads must see the data);
what they create is removed again in the cleanup, except the POS company of
:class:`TestConnectionDrop` (a company with its chart of accounts can't be
deleted), which is left in the throwaway test database.
"""

import functools
import json
import random
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from psycopg2 import InterfaceError, OperationalError

from odoo import SUPERUSER_ID, Command, api, fields, modules
from odoo.api import Transaction
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import mute_logger


class CommittedCase(BaseCase):
    """Separate cursors on the test database; cleanups run in reverse order."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def _env(self, cr, context=None):
        # Give the cursor its transaction ourselves: Environment() would otherwise
        # look the registry up under the lock the test runner holds.
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, context or {})

    def _sql(self, query, params=()):
        with self.registry.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None

    @staticmethod
    def _phone():
        return "+7916" + "".join(random.choice("0123456789") for _i in range(7))

    def _committed_member(self, env):
        """A member with a card, committed; removed again after the test."""
        partner = env["res.partner"].create(
            {"name": "Reliability member", "phone": self._phone()}
        )
        partner._loyalty_enrol()
        env.cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._remove_member, partner.id, partner.loyalty_card_id.id)
        return partner

    def _remove_member(self, partner_id, card_id):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM loyalty_ledger WHERE card_id = %s", [card_id])
            cr.execute(
                "DELETE FROM loyalty_tier_history WHERE partner_id = %s", [partner_id]
            )
            cr.execute(
                "DELETE FROM loyalty_consent WHERE partner_id = %s", [partner_id]
            )
            cr.execute(
                "UPDATE res_partner SET loyalty_card_id = NULL WHERE id = %s",
                [partner_id],
            )
            cr.execute("DELETE FROM loyalty_card WHERE id = %s", [card_id])
            cr.execute(
                "DELETE FROM mail_message WHERE (model = 'res.partner' AND res_id = %s)"
                " OR (model = 'loyalty.card' AND res_id = %s)",
                [partner_id, card_id],
            )
            cr.execute(
                "DELETE FROM mail_followers WHERE (res_model = 'res.partner'"
                " AND res_id = %s) OR (res_model = 'loyalty.card' AND res_id = %s)",
                [partner_id, card_id],
            )
            cr.execute(
                "UPDATE res_partner SET active = false, loyalty_phone = NULL,"
                " loyalty_referral_code = NULL WHERE id = %s",
                [partner_id],
            )

    def _balance(self, card_id):
        ((points, ledger),) = self._sql(
            "SELECT COALESCE(c.points, 0), (SELECT COALESCE(SUM(points), 0)"
            " FROM loyalty_ledger"
            " WHERE card_id = c.id AND state IN ('available', 'posted'))"
            " FROM loyalty_card c WHERE c.id = %s",
            [card_id],
        )
        return points, float(ledger)


@tagged("post_install", "-at_install")
class TestSerializationRetry(CommittedCase):
    """Odoo replays a request after a serialization failure: the accrual the
    first attempt was making is written once, never twice, never lost."""

    @mute_logger("odoo.sql_db", "odoo.service.model")
    def test_retried_accrual_is_posted_once(self):
        with self.registry.cursor() as cr:
            member = self._committed_member(self._env(cr))
            card_id = member.loyalty_card_id.id
        attempts = []
        errors = []

        with self.registry.cursor() as cr:
            env = self._env(cr)
            card = env["loyalty.card"].browse(card_id)

            def accrue():
                attempts.append(len(attempts) + 1)
                # the request's snapshot starts here (REPEATABLE READ)
                env.cr.execute(
                    "SELECT points FROM loyalty_card WHERE id = %s", [card_id]
                )
                if len(attempts) == 1:
                    # another request changes the card and commits meanwhile
                    with self.registry.cursor() as other_cr:
                        other = self._env(other_cr)
                        other["loyalty.ledger"]._post(
                            other["loyalty.card"].browse(card_id),
                            7,
                            "adjustment",
                            reason="concurrent",
                        )
                try:
                    return env["loyalty.ledger"]._accrue_purchase(
                        card, 1000.0, "reliability/retry/1", reference="Retried"
                    )
                except OperationalError as error:
                    errors.append(error.pgcode)
                    raise

            entry = retrying(accrue, env)
            entry_id = entry.id

        # the first attempt hit a real serialization failure, the second succeeded
        self.assertEqual(errors, ["40001"])
        self.assertEqual(attempts, [1, 2])
        rows = self._sql(
            "SELECT id, entry_type, points FROM loyalty_ledger"
            " WHERE idempotency_key = 'reliability/retry/1'"
        )
        self.assertEqual(rows, [(entry_id, "accrual", 50.0)])
        self.assertEqual(self._balance(card_id), (57.0, 57.0))

        # the client replays the same request (same key): nothing new
        with self.registry.cursor() as cr:
            env = self._env(cr)
            again = retrying(
                functools.partial(
                    env["loyalty.ledger"]._accrue_purchase,
                    env["loyalty.card"].browse(card_id),
                    1000.0,
                    "reliability/retry/1",
                ),
                env,
            )
            self.assertEqual(again.id, entry_id)
        self.assertEqual(self._balance(card_id), (57.0, 57.0))


@tagged("post_install", "-at_install")
class TestConnectionDrop(CommittedCase):
    """The database connection drops in the middle of a POS order sync: nothing
    of the order lands; syncing it again lands it once, with its points."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.registry.cursor() as cr:
            cr.transaction = Transaction(cls.registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].search(
                [("name", "=", "Reliability POS company")], limit=1
            ) or env["res.company"].create({"name": "Reliability POS company"})
            env = env(context={"allowed_company_ids": [company.id]})
            if not company.chart_template:
                env["account.chart.template"].try_loading(
                    "generic_coa", company, install_demo=False
                )
            company.loyalty_phone_region = "RU"
            company.loyalty_required_field_ids = False
            config = env["pos.config"].search(
                [("company_id", "=", company.id)], limit=1
            ) or env["pos.config"].create({"name": "Reliability POS"})
            session = config.current_session_id or env["pos.session"].create(
                {"config_id": config.id}
            )
            product = env["product.product"].search(
                [("name", "=", "Reliability product")], limit=1
            ) or env["product.product"].create(
                {
                    "name": "Reliability product",
                    "type": "service",
                    "available_in_pos": True,
                    "list_price": 1000.0,
                    "taxes_id": [Command.clear()],
                }
            )
            cr.commit()  # pylint: disable=invalid-commit
            cls.company_id = company.id
            cls.session_id = session.id
            cls.config_id = config.id
            cls.product_id = product.id
            cls.pricelist_id = config.pricelist_id.id
            cls.cash_id = config.payment_method_ids.filtered("is_cash_count")[:1].id

    def _company_env(self, cr):
        return self._env(cr, {"allowed_company_ids": [self.company_id]})

    def _order(self, partner_id, uuid):
        now = fields.Datetime.to_string(fields.Datetime.now())
        return {
            "amount_paid": 1000.0,
            "amount_return": 0,
            "amount_tax": 0,
            "amount_total": 1000.0,
            "date_order": now,
            "fiscal_position_id": False,
            "pricelist_id": self.pricelist_id,
            "name": f"Order {uuid}",
            "last_order_preparation_change": "{}",
            "lines": [
                Command.create(
                    {
                        "id": 1,
                        "pack_lot_ids": [],
                        "price_unit": 1000.0,
                        "product_id": self.product_id,
                        "price_subtotal": 1000.0,
                        "price_subtotal_incl": 1000.0,
                        "qty": 1,
                        "tax_ids": [Command.set([])],
                    }
                )
            ],
            "partner_id": partner_id,
            "session_id": self.session_id,
            "sequence_number": 2,
            "payment_ids": [
                Command.create(
                    {"amount": 1000.0, "name": now, "payment_method_id": self.cash_id}
                )
            ],
            "uuid": uuid,
            "user_id": SUPERUSER_ID,
            "to_invoice": False,
        }

    def _landed(self, uuid):
        return self._sql(
            "SELECT o.id, o.state, (SELECT COUNT(*) FROM pos_order_line"
            " WHERE order_id = o.id) FROM pos_order o WHERE o.uuid = %s",
            [uuid],
        )

    def _entries(self, order_id):
        return self._sql(
            "SELECT entry_type, points FROM loyalty_ledger"
            " WHERE res_model = 'pos.order' AND res_id = %s",
            [order_id],
        )

    @mute_logger("odoo.sql_db")
    def test_sync_interrupted_by_a_dropped_connection(self):
        with self.registry.cursor() as cr:
            member = self._committed_member(self._company_env(cr))
            partner_id, card_id = member.id, member.loyalty_card_id.id
        uuid = f"reliability-{random.randrange(10**9)}"
        before = self._balance(card_id)

        # the sync runs, then the connection is cut before the transaction ends
        cr = self.registry.cursor()
        try:
            env = self._company_env(cr)
            env["pos.order"].sync_from_ui([self._order(partner_id, uuid)])
            env.flush_all()
            cr.execute("SELECT pg_backend_pid()")
            pid = cr.fetchone()[0]
            cr.execute("SELECT COUNT(*) FROM pos_order WHERE uuid = %s", [uuid])
            self.assertEqual(cr.fetchone()[0], 1, "the order was created")
            cr.execute(
                "SELECT COUNT(*) FROM loyalty_ledger l JOIN pos_order o "
                "ON l.res_model = 'pos.order' AND l.res_id = o.id WHERE o.uuid = %s",
                [uuid],
            )
            self.assertEqual(cr.fetchone()[0], 1, "its points, in the same transaction")
            ((killed,),) = self._sql("SELECT pg_terminate_backend(%s)", [pid])
            self.assertTrue(killed)
            with self.assertRaises((OperationalError, InterfaceError)):
                cr.commit()  # pylint: disable=invalid-commit
        finally:
            try:
                cr.close()
            except (OperationalError, InterfaceError):
                cr._closed = True  # the connection is gone already
        self.assertEqual(self._landed(uuid), [], "nothing of the order landed")
        self.assertEqual(self._balance(card_id), before)

        # the POS syncs the order again (it keeps it until the server answers),
        # then once more, as it does when the answer is lost: one order
        for _attempt in range(2):
            with self.registry.cursor() as cr2:
                self._company_env(cr2)["pos.order"].sync_from_ui(
                    [self._order(partner_id, uuid)]
                )
        landed = self._landed(uuid)
        self.assertEqual(len(landed), 1)
        order_id, state, lines = landed[0]
        self.assertEqual((state, lines), ("paid", 1))

        # and its points with it, once
        entries = self._entries(order_id)
        self.assertEqual([t for t, _p in entries], ["accrual"], entries)
        points, ledger = self._balance(card_id)
        self.assertEqual(points, ledger)
        self.assertEqual(points, before[0] + sum(p for _t, p in entries))


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive a message (counts the messages received)."""

    def _reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self._reply("220 localhost test SMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode(errors="replace").strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 localhost")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    data.append(chunk)
                self.server.messages.append(b"".join(data))
                self._reply("250 OK queued")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


class _SMSProvider(BaseHTTPRequestHandler):
    """An SMS provider answering like Odoo's IAP SMS service: every SMS sent."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        numbers = [
            number
            for message in body["params"]["messages"]
            for number in message["numbers"]
        ]
        self.server.received.extend(numbers)
        answer = {
            "jsonrpc": "2.0",
            "id": body.get("id"),
            "result": [{"uuid": n["uuid"], "state": "success"} for n in numbers],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@tagged("post_install", "-at_install")
class TestProviderErrors(CommittedCase):
    """A provider error leaves the message queued for a retry: never lost, and
    never sent twice. Odoo's own queues (``mail.mail``, ``sms.sms``) run in a
    thread of their own, as the scheduler runs them, against local servers."""

    def _serve(self, server):
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def _in_thread(self, func):
        """``func(env)`` in a new thread (not flagged as testing), committed."""
        outcome = []

        def run():
            with self.registry.cursor() as cr:
                env = self._env(cr)
                outcome.append(func(env))
                env.flush_all()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(120)
        self.assertEqual(len(outcome), 1, "the queue run did not finish")
        return outcome[0]

    @mute_logger("odoo.addons.mail.models.mail_mail")
    def test_email_survives_an_smtp_failure(self):
        down = _closed_port()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            server = env["ir.mail_server"].create(
                {
                    "name": "Reliability SMTP",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": down,
                    "smtp_encryption": "none",
                    "sequence": 0,
                }
            )
            mail = env["mail.mail"].create(
                {
                    "subject": "Your bonus balance",
                    "body_html": "<p>You have 100 points.</p>",
                    "email_from": "shop@example.com",
                    "email_to": "member@example.com",
                    "mail_server_id": server.id,
                    "auto_delete": False,
                }
            )
            cr.commit()  # pylint: disable=invalid-commit
            server_id, mail_id = server.id, mail.id
        self.addCleanup(
            self._sql, "DELETE FROM ir_mail_server WHERE id = %s", [server_id]
        )
        self.addCleanup(self._sql, "DELETE FROM mail_mail WHERE id = %s", [mail_id])

        def queue_run(env):
            env["mail.mail"].process_email_queue(ids=[mail_id])
            mail = env["mail.mail"].browse(mail_id).exists()
            return mail and (mail.state, bool(mail.failure_reason))

        # Odoo's test mode does not connect to SMTP servers at all: leave it
        # for the length of the queue runs, so that the real connection is made.
        current_test = modules.module.current_test
        modules.module.current_test = None
        try:
            # the provider is down: the message waits in the exception state
            self.assertEqual(self._in_thread(queue_run), ("exception", True))
            # a later queue run with the server still down: still there, once
            self.assertEqual(self._in_thread(queue_run), ("exception", True))
            smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
            smtp.messages = []
            port = self._serve(smtp)
            self._sql(
                "UPDATE ir_mail_server SET smtp_port = %s WHERE id = %s",
                [port, server_id],
            )
            # the retry path: the message goes back to the queue and is sent
            self._in_thread(lambda env: env["mail.mail"].browse(mail_id).action_retry())
            self.assertEqual(self._in_thread(queue_run), ("sent", False))
            # the queue runs again: nothing is sent twice
            self.assertEqual(self._in_thread(queue_run), ("sent", False))
        finally:
            modules.module.current_test = current_test
        self.assertEqual(len(smtp.messages), 1)
        self.assertIn(b"Your bonus balance", smtp.messages[0])

    @mute_logger("odoo.addons.sms.models.sms_sms")
    def test_sms_survives_a_provider_failure(self):
        ((old_endpoint,),) = self._sql(
            "SELECT COALESCE((SELECT value FROM ir_config_parameter"
            " WHERE key = 'sms.endpoint'), '')"
        )
        down = _closed_port()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["ir.config_parameter"].set_param(
                "sms.endpoint", f"http://127.0.0.1:{down}"
            )
            sms = env["sms.sms"].create(
                {"number": "+79161234567", "body": "You have 100 points."}
            )
            cr.commit()  # pylint: disable=invalid-commit
            sms_id, sms_uuid = sms.id, sms.uuid
        self.addCleanup(self._sql, "DELETE FROM sms_sms WHERE id = %s", [sms_id])
        self.addCleanup(
            lambda: self._in_thread(
                lambda env: env["ir.config_parameter"].set_param(
                    "sms.endpoint", old_endpoint or False
                )
            )
        )

        def queue_run(env):
            env["sms.sms"]._process_queue(ids=[sms_id])
            sms = env["sms.sms"].browse(sms_id).exists()
            return sms and (sms.state, sms.failure_type, sms.to_delete)

        # the provider can't be reached: the SMS is kept, in error, for a retry
        self.assertEqual(self._in_thread(queue_run), ("error", "sms_server", False))
        self.assertEqual(self._in_thread(queue_run), ("error", "sms_server", False))

        provider = HTTPServer(("127.0.0.1", 0), _SMSProvider)
        provider.received = []
        port = self._serve(provider)
        self._in_thread(
            lambda env: env["ir.config_parameter"].set_param(
                "sms.endpoint", f"http://127.0.0.1:{port}"
            )
        )
        # the retry path (Retry on the failed SMS): queued again, sent once
        self._in_thread(lambda env: env["sms.sms"].browse(sms_id).action_set_outgoing())
        sent = self._in_thread(queue_run)
        self.assertEqual([n["uuid"] for n in provider.received], [sms_uuid], sent)
        self.assertIn(sent, [("pending", False, True), ("sent", False, True), False])
        # more queue runs: never sent twice
        self._in_thread(queue_run)
        self.assertEqual(len(provider.received), 1)
