from odoo.exceptions import UserError


class LoyaltyError(UserError):
    """A refusal of the bonus program, with a machine-readable ``code``.

    The codes are those of the HTTP API contract (``insufficient_points``,
    ``redemption_cap_exceeded``, ``card_blocked``, ``already_reversed``,
    ``validation_error``) so that every channel (API, POS, back office)
    reports the same refusal the same way.
    """

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
