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


def phone_problem(number, region):
    """Why ``number`` is not a valid phone number, as a short code for people:
    ``too_short``, ``too_long``, ``not_a_number`` or ``invalid``."""
    try:
        parsed = phonenumbers.parse(number, (region or "").upper() or None)
    except phonenumbers.NumberParseException as error:
        if error.error_type in (
            phonenumbers.NumberParseException.TOO_SHORT_NSN,
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
        ):
            return "too_short"
        if error.error_type == phonenumbers.NumberParseException.TOO_LONG:
            return "too_long"
        return "not_a_number"
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason in (
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    ):
        return (
            "too_short"
            if reason == phonenumbers.ValidationResult.TOO_SHORT
            else "invalid"
        )
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return "too_long"
    return "invalid"
