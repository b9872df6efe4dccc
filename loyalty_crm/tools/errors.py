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


class LoyaltyKeyTaken(Exception):
    """An entry was posted with an idempotency key the caller had claimed afresh
    (context ``loyalty_ledger_fresh_key``), so it did not look for it first: a
    replay of a request whose first answer was forgotten. Nothing was written;
    the caller runs the request again, the ledger looking for the entry."""
