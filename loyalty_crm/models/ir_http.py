from odoo import api, models


class IrHttp(models.AbstractModel):
    """loyalty_crm's Russian wins in the web client, the till and the portal.

    The browser merges the terms of every module into one dictionary, module
    after module in the order of the server's answer, the last one winning
    (``localization_service.js``); that order is the order of a Python set of
    module names, which changes from one server start to the next. A term
    translated by two modules thus reads one way or the other at random: Odoo's
    "Email" left in English by web and mass_mailing against our "Эл. почта",
    "Ок" (point_of_sale) against "ОК" (web). Sending loyalty_crm's terms last
    makes ours the ones the user reads, every time.

    Which core terms we translate on purpose is checked by
    ``tests/test_i18n_overrides.py`` (their list: ``CORE_TERMS`` in
    ``static/src/core_terms.js``); any other term we share with Odoo must read
    as Odoo reads it.
    """

    _inherit = "ir.http"

    @api.model
    def get_translations_for_webclient(self, modules, lang):
        translations, lang_params = super().get_translations_for_webclient(
            modules, lang
        )
        if "loyalty_crm" in translations:
            translations["loyalty_crm"] = translations.pop("loyalty_crm")
        return translations, lang_params
