"""JSON over HTTP at /api/loyalty/v1 (the contract is API.md); thin handlers.

Every handler authenticates the Bearer key, parses the body and calls
:class:`~odoo.addons.loyalty_crm.services.api.LoyaltyApi`. A refusal rolls the
request's transaction back before answering: Odoo commits what a handler
leaves behind when it returns normally, and a refused request writes nothing.
"""

import logging
import re

from odoo import _, http
from odoo.http import request

from ..services.api import (
    BASE_PATH,
    MAX_BODY_BYTES,
    OPERATIONS,
    ApiError,
    LoyaltyApi,
    parse_json_body,
    run_with_retries,
)
from ..services.openapi import openapi_document

_logger = logging.getLogger(__name__)

# the contract's paths as patterns ("/members/{member_id}/transactions")
OPERATION_PATHS = [
    (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(op["path"])) + "$"), op)
    for op in OPERATIONS.values()
]

ROUTE = {
    "type": "http",
    "auth": "public",
    "csrf": False,
    "save_session": False,
}


class LoyaltyApiController(http.Controller):
    def _read_body(self):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            raise ApiError("body_too_large", _("The request body is too large."))
        # cached: Odoo replays the handler after a serialization failure
        data = httprequest.get_data()
        return parse_json_body(httprequest.headers.get("Content-Type"), data)

    def _dispatch(self, operation, **args):
        env = request.env
        try:
            uid = LoyaltyApi.authenticate(
                env, request.httprequest.headers.get("Authorization")
            )
            # messages in the API user's language
            lang = env["res.users"].browse(uid).sudo().lang
            if lang:
                request.update_context(lang=lang)
                env = request.env
            body = None
            if OPERATIONS[operation]["method"] == "POST":
                body = self._read_body()
            status, payload = run_with_retries(
                env, uid, operation, args, request.httprequest.args.to_dict(), body
            )
        except ApiError as error:
            env.cr.rollback()
            env.clear()
            status, payload = error.status, error.payload()
        if status not in OPERATIONS[operation]["statuses"]:
            _logger.error("%s answered %s, not in its contract", operation, status)
        return request.make_json_response(payload, status=status)

    @http.route(f"{BASE_PATH}/openapi.json", methods=["GET"], **ROUTE)
    def openapi(self):
        return request.make_json_response(
            openapi_document(request.httprequest.host_url.rstrip("/"))
        )

    @http.route(f"{BASE_PATH}/members/lookup", methods=["GET"], **ROUTE)
    def lookup(self, **_kw):
        return self._dispatch("lookup")

    @http.route(f"{BASE_PATH}/members", methods=["POST"], **ROUTE)
    def create_member(self, **_kw):
        return self._dispatch("create_member")

    @http.route(
        f"{BASE_PATH}/members/<int:member_id>/transactions", methods=["GET"], **ROUTE
    )
    def transactions(self, member_id, **_kw):
        return self._dispatch("transactions", member_id=member_id)

    @http.route(f"{BASE_PATH}/accruals", methods=["POST"], **ROUTE)
    def accrue(self, **_kw):
        return self._dispatch("accrue")

    @http.route(f"{BASE_PATH}/redemptions", methods=["POST"], **ROUTE)
    def redeem(self, **_kw):
        return self._dispatch("redeem")

    @http.route(f"{BASE_PATH}/redemptions/otp", methods=["POST"], **ROUTE)
    def request_otp(self, **_kw):
        return self._dispatch("request_otp")

    @http.route(
        f"{BASE_PATH}/transactions/<int:transaction_id>/reversal",
        methods=["POST"],
        **ROUTE,
    )
    def reverse(self, transaction_id, **_kw):
        return self._dispatch("reverse", transaction_id=transaction_id)

    @http.route(f"{BASE_PATH}/adjustments", methods=["POST"], **ROUTE)
    def adjust(self, **_kw):
        return self._dispatch("adjust")

    @http.route(f"{BASE_PATH}/cards/<string:code>/replace", methods=["POST"], **ROUTE)
    def replace_card(self, code, **_kw):
        return self._dispatch("replace_card", code=code[:64])

    @http.route(f"{BASE_PATH}/<path:unknown>", **ROUTE)
    def unknown(self, unknown, **_kw):
        """Anything else under the base path gets a JSON error, never an HTML page:
        a path of the contract with another method is 405, the rest (including an
        id that is not a number) 404."""
        path = "/" + unknown
        methods = sorted(
            op["method"] for pattern, op in OPERATION_PATHS if pattern.match(path)
        )
        if methods and request.httprequest.method not in methods:
            error = ApiError(
                "method_not_allowed",
                _(
                    "%(path)s accepts %(methods)s only.",
                    path=BASE_PATH + path,
                    methods=", ".join(methods),
                ),
            )
            headers = [("Allow", ", ".join(methods))]
        else:
            error = ApiError(
                "not_found",
                _("There is no endpoint %(path)s.", path=BASE_PATH + path),
            )
            headers = None
        return request.make_json_response(
            error.payload(), status=error.status, headers=headers
        )
