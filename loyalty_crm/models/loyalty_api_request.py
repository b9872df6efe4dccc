from odoo import api, fields, models
from odoo.tools import SQL

# answers are kept this long for replays; the ledger's own idempotency keys
# (api/<user>/<key>) still stop a later replay from posting twice
KEEP_DAYS = 90


class LoyaltyApiRequest(models.Model):
    """An HTTP API request made with an idempotency key, and its first answer.

    Written by the API's service layer only (``INSERT ... ON CONFLICT``): the
    unique index on (user, key) is what makes a replay safe under concurrency.
    """

    _name = "loyalty.api.request"
    _description = "Loyalty API Request"
    _order = "id desc"
    _rec_name = "idempotency_key"

    user_id = fields.Many2one(
        "res.users", string="API User", required=True, readonly=True, ondelete="cascade"
    )
    idempotency_key = fields.Char(required=True, readonly=True)
    operation = fields.Char(readonly=True)
    request_hash = fields.Char(readonly=True)
    status_code = fields.Integer(string="Status", readonly=True)
    response_body = fields.Text(string="Response", readonly=True)
    coalition_partner_id = fields.Many2one(
        "loyalty.coalition.partner", readonly=True, ondelete="set null"
    )

    _sql_constraints = [
        (
            "user_key_unique",
            "UNIQUE(user_id, idempotency_key)",
            "An idempotency key is used once per API user.",
        ),
    ]

    @api.autovacuum
    def _gc_old_requests(self):
        self.env.execute_query(
            SQL(
                "DELETE FROM loyalty_api_request WHERE create_date < "
                "(now() at time zone 'utc') - make_interval(days => %s)",
                KEEP_DAYS,
            )
        )
