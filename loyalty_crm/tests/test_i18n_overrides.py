"""Odoo core terms the product shows, in the Russian the user reads.

The web client, the till and the portal merge the terms of every module into one
dictionary, module after module in the order of the server's answer, the last one
winning (web's ``localization_service.js``). loyalty_crm's terms come last
(``models/ir_http.py``), so the core terms it translates on purpose
(``i18n_extra/ru.po``: Odoo's Russian is missing or differs from module to module)
read its way, and every other term it shares with Odoo must read as Odoo reads it.
"""

import polib

from odoo.tests import HttpCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import code_translations, get_po_paths

# modules whose terms the till, the quotation and the back office show
CORE = ["web", "mail", "mass_mailing", "point_of_sale", "sale_loyalty", "pos_loyalty"]


@tagged("post_install", "-at_install")
class TestCoreTermOverrides(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("ru_RU")
        cls.overrides = {
            e.msgid: e.msgstr
            for e in polib.pofile(file_path("loyalty_crm/i18n_extra/ru.po"))
        }
        cls.ours = {
            e.msgid: e.msgstr
            for e in polib.pofile(file_path("loyalty_crm/i18n/ru.po"))
            if "odoo-javascript" in (e.comment or "")
        }
        cls.installed = (
            cls.env["ir.module.module"]
            .search([("state", "=", "installed"), ("name", "!=", "loyalty_crm")])
            .mapped("name")
        )

    def _client_terms(self, modules=None):
        """The dictionary the browser builds from /web/webclient/translations."""
        url = "/web/webclient/translations/test?lang=ru_RU"
        if modules:
            url += "&mods=" + ",".join(modules)
        response = self.url_open(url)
        response.raise_for_status()
        terms = {}
        for messages in response.json()["modules"].values():  # in the answer's order
            for message in messages["messages"]:
                terms[message["id"]] = message["string"]
        return terms

    def test_core_terms_read_as_loyalty_crm_says(self):
        self.assertIn("Email", self.overrides)
        for modules in (
            None,  # what the web client asks: every installed module
            ["loyalty_crm", *CORE],
            [*CORE, "loyalty_crm"],
            [*reversed(CORE), "loyalty_crm", *CORE],
        ):
            terms = self._client_terms(modules)
            for msgid, msgstr in self.overrides.items():
                with self.subTest(modules=modules, term=msgid):
                    self.assertEqual(terms.get(msgid), msgstr)
            # a term of ours only, for the record
            self.assertEqual(
                terms["Enrol and issue the card"], "Зарегистрировать и выдать карту"
            )

    def test_each_override_corrects_an_installed_module(self):
        """An override stands for a core term the user can meet whose Russian is
        missing, English, or not the same from one module to the next."""
        core = {}  # msgid: {module: translation or ""}
        for module in self.installed:
            for path in get_po_paths(module, "ru_RU"):
                for entry in polib.pofile(path):
                    if "odoo-javascript" in (entry.comment or ""):
                        core.setdefault(entry.msgid, {})[module] = entry.msgstr
        for msgid, msgstr in self.overrides.items():
            with self.subTest(term=msgid):
                self.assertIn(msgid, core, "no installed module shows this term")
                self.assertTrue(
                    any(value != msgstr for value in core[msgid].values()),
                    f"every installed module already says {msgstr!r}",
                )

    def test_other_shared_terms_read_as_odoo_reads_them(self):
        """Our translation of a term Odoo translates too would replace Odoo's
        everywhere in the browser: it must be Odoo's, or a declared override."""
        different = {}
        for module in self.installed:
            for message in code_translations.get_web_translations(module, "ru_RU")[
                "messages"
            ]:
                msgid, msgstr = message["id"], message["string"]
                if (
                    msgid in self.ours
                    and msgid not in self.overrides
                    and self.ours[msgid] != msgstr
                ):
                    different.setdefault(msgid, {})[module] = msgstr
        self.assertFalse(different, "loyalty_crm's Russian differs from Odoo's")

    def test_the_translations_route_with_hostile_arguments(self):
        """/web/webclient/translations is public: made-up, empty or endless module
        lists and unknown languages get Odoo's JSON answer (loyalty_crm's terms
        last whenever they are in it), never a server error."""
        made_up = ",".join(f"nope{i}" for i in range(2000))
        for query in (
            "mods=",
            "mods=,,,",
            "mods=loyalty_crm",
            "mods=loyalty_crm,web,mail,point_of_sale",
            "mods=web",
            f"mods={made_up},loyalty_crm",
            "mods=loyalty_crm&lang=xx_XX",
            "mods=loyalty_crm&lang=../../etc",
            "lang=%00",
        ):
            with self.subTest(query=query[:40]):
                response = self.url_open(f"/web/webclient/translations/x?{query}")
                self.assertEqual(response.status_code, 200)
                modules = list(response.json()["modules"])
                if "loyalty_crm" in modules:
                    self.assertEqual(modules[-1], "loyalty_crm")
