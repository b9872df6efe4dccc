"""Phone numbers of members: parsed with ``phonenumbers`` and kept in E.164."""

import phonenumbers

from odoo.exceptions import UserError

from odoo.addons.phone_validation.tools.phone_validation import phone_parse


def normalize_phone(number, region):
    """Return ``number`` in E.164 (``+79991234567``).

    ``region`` (ISO 3166 alpha-2, e.g. ``"RU"``) is used for national notations
    such as ``8 (999) 123-45-67``. Raises ``ValueError`` with a human reason when
    the number is not a valid phone number. Empty input gives ``False``.
    """
    number = (number or "").strip()
    if not number:
        return False
    if not any(ch.isdigit() for ch in number):
        raise ValueError(number)
    try:
        parsed = phone_parse(number, (region or "").upper() or None)
    except UserError as error:
        raise ValueError(str(error.args[0] if error.args else error)) from error
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
