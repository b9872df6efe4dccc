"""Personal data over HTTP: the member's own export from the portal, and the
SMS replies an SMS provider reports (STOP / СТОП opts the number out)."""

import hmac
import json

from odoo import _, http
from odoo.http import request


class LoyaltyPrivacyController(http.Controller):
    @http.route("/my/loyalty/personal-data", type="http", auth="user", methods=["GET"])
    def personal_data(self, **_kw):
        """The logged-in member's data as a JSON file (their own, nobody else's)."""
        partner = request.env.user.partner_id.sudo()
        if not partner.loyalty_is_member:
            return request.not_found()
        partner.with_user(request.env.user)._loyalty_log_request("export", "portal")
        data = json.dumps(
            partner._loyalty_personal_data(), ensure_ascii=False, indent=1, default=str
        )
        filename = _("personal-data.json")
        return request.make_response(
            data.encode(),
            headers=[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Disposition", f'attachment; filename="{filename}"'),
            ],
        )

    @http.route(
        "/loyalty_crm/sms/reply",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
    )
    def sms_reply(self, **_kw):
        """``{"number", "text"}`` from the SMS provider, with the shared token of
        the setting ``loyalty_crm.sms_reply_token`` (header ``X-Loyalty-Token``)."""
        env = request.env(su=True)
        expected = env["ir.config_parameter"].get_param("loyalty_crm.sms_reply_token")
        given = request.httprequest.headers.get("X-Loyalty-Token", "")
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            return request.make_json_response({"error": "forbidden"}, status=403)
        try:
            body = json.loads(request.httprequest.get_data() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("number", "text")
        ):
            return request.make_json_response({"error": "bad_request"}, status=400)
        members = env["res.partner"]._loyalty_sms_reply(
            body["number"][:64], body["text"][:160]
        )
        return request.make_json_response({"opted_out": len(members)})
