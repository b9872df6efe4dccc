"""JSON over HTTP at /api/loyalty/v1 (the contract is API.md); thin handlers.

The routes are built from the one route table,
:data:`~odoo.addons.loyalty_crm.models.loyalty_api.OPERATIONS`. Every handler
authenticates the Bearer key, parses the body and calls the ``loyalty.api``
model. A refusal rolls the request's transaction back before answering: Odoo
commits what a handler leaves behind when it returns normally, and a refused
request writes nothing.
"""

import logging
import re

from odoo import _, http
from odoo.http import request

from ..models.loyalty_api import (
    BASE_PATH,
    MAX_BODY_BYTES,
    OPERATIONS,
    ApiError,
    begin_read_committed,
    parse_json_body,
    path_arguments,
    route_rule,
    run_with_retries,
)
from ..services.openapi import openapi_document

_logger = logging.getLogger(__name__)

# the contract's paths as patterns ("/members/{member_id}/transactions")
OPERATION_PATHS = [
    (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(op["path"])) + "$"), op)
    for op in OPERATIONS.values()
]

# auth "none": the handlers authenticate the Bearer key themselves; nothing of
# Odoo's session or public user is needed (as Odoo's own JSON-RPC floor)
ROUTE = {
    "type": "http",
    "auth": "none",
    "csrf": False,
    "save_session": False,
}


def api_route(operation):
    """The handler of one operation of the route table, routed at its path and
    method; a controller inheriting this one overrides it by name with
    ``@http.route()`` and ``super()``.

    A GET (lookup, history) only reads: its route is read-only, so that Odoo
    serves it on a read-only cursor, from the streaming replica when one is
    configured (``--db_replica_host``). A POST, with the check of its
    idempotency key, always runs on the primary.
    """

    def handler(self, **kwargs):
        # kwargs holds the query string too: only the path's parameters are args
        args = {name: kwargs[name] for name in path_arguments(operation)}
        return self._dispatch(operation, **args)

    handler.__name__ = handler.__qualname__ = operation
    method = OPERATIONS[operation]["method"]
    return http.route(
        route_rule(operation), methods=[method], readonly=method == "GET", **ROUTE
    )(handler)


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
        write = OPERATIONS[operation]["method"] == "POST"
        try:
            if write:
                # the write's transaction, READ COMMITTED, starts with the key's
                # check (see begin_read_committed)
                begin_read_committed(env)
            key_user = env["loyalty.api"]._authenticate(
                request.httprequest.headers.get("Authorization")
            )
            uid = key_user["uid"]
            # messages in the API user's language
            lang = key_user["lang"]
            if lang:
                request.update_context(lang=lang)
                env = request.env
            body = None
            if write:
                body = self._read_body()
            status, payload = run_with_retries(
                env,
                uid,
                operation,
                args,
                request.httprequest.args.to_dict(),
                body,
                key_user=key_user,
                begun=write,
            )
        except ApiError as error:
            env.cr.rollback()
            env.clear()
            status, payload = error.status, error.payload()
        if status not in OPERATIONS[operation]["statuses"]:
            _logger.error("%s answered %s, not in its contract", operation, status)
        return request.make_json_response(payload, status=status)

    @http.route(f"{BASE_PATH}/openapi.json", methods=["GET"], readonly=True, **ROUTE)
    def openapi(self):
        """The contract, its server at the database's own base URL (the one
        Odoo writes in every link it sends, ``web.base.url``): never the
        request's Host header, which any client sets to what it likes."""
        base_url = request.env["ir.config_parameter"].sudo().get_param("web.base.url")
        return request.make_json_response(
            openapi_document((base_url or "").rstrip("/"))
        )

    lookup = api_route("lookup")
    create_member = api_route("create_member")
    transactions = api_route("transactions")
    accrue = api_route("accrue")
    redeem = api_route("redeem")
    reverse = api_route("reverse")
    adjust = api_route("adjust")
    replace_card = api_route("replace_card")
    request_otp = api_route("request_otp")

    @http.route(
        [BASE_PATH, f"{BASE_PATH}/", f"{BASE_PATH}/<path:unknown>"],
        readonly=True,
        **ROUTE,
    )
    def unknown(self, unknown="", **_kw):
        """Anything else under the base path (the base path itself included)
        gets a JSON error, never an HTML page: a path of the contract with
        another method is 405, the rest (including an id that is not a number)
        404."""
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
