import re

import polib

from odoo.modules.module import get_module_resource
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestI18n(TransactionCase):
    """The Russian translation is complete and loads (cashiers read Russian)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pot = polib.pofile(
            get_module_resource("loyalty_crm", "i18n", "loyalty_crm.pot")
        )
        cls.po = polib.pofile(get_module_resource("loyalty_crm", "i18n", "ru.po"))

    def test_every_term_of_the_template_is_translated(self):
        translated = {e.msgid: e.msgstr for e in self.po if not e.obsolete}
        missing = [e.msgid for e in self.pot if not translated.get(e.msgid)]
        self.assertFalse(missing, "Untranslated in ru.po (run scripts/i18n.sh)")
        self.assertFalse([e.msgid for e in self.po if "fuzzy" in e.flags])

    def test_placeholders_are_kept(self):
        for entry in self.po:
            if "python-format" in entry.flags:
                with self.subTest(msgid=entry.msgid):
                    self.assertEqual(
                        sorted(polib_placeholders(entry.msgid)),
                        sorted(polib_placeholders(entry.msgstr)),
                    )

    def test_ui_reads_russian(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"]._load_module_terms(
            ["loyalty_crm"], ["ru_RU"], overwrite=True
        )
        env = self.env(context=dict(self.env.context, lang="ru_RU"))
        self.assertEqual(
            env.ref("loyalty_crm.res_partner_menu_member").name, "Участники"
        )
        self.assertEqual(
            env.ref("loyalty_crm.loyalty_crm_menu_root").name, "Лояльность"
        )
        partner_fields = env["res.partner"].fields_get(["loyalty_birthdate"])
        self.assertEqual(partner_fields["loyalty_birthdate"]["string"], "Дата рождения")
        states = dict(
            env["loyalty.card"].fields_get(["loyalty_state"])["loyalty_state"][
                "selection"
            ]
        )
        self.assertEqual(states["lost"], "Утеряна")
        # messages raised by the code are translated too
        partner = env["res.partner"].create({"name": "Тест", "phone": "12"})
        with self.assertRaisesRegex(Exception, "неверный номер телефона"):
            partner._loyalty_enrol()


def polib_placeholders(text):
    return re.findall(r"%\([a-z_]+\)[-+ #0]*\d*(?:\.\d+)?[sdfr]|%[sdfr]", text)
