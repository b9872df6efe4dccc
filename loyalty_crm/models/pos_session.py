from odoo import models


class PosSession(models.Model):
    _inherit = "pos.session"

    def _load_pos_data(self, data):
        res = super()._load_pos_data(data)
        # the products of the points discount: a return takes its share back
        res["data"][0]["_loyalty_crm_discount_product_ids"] = (
            self.env["pos.config"]._loyalty_pos_discount_products().ids
        )
        return res

    def _validate_session(self, *args, **kwargs):
        # no reservation outlives its session: the points of orders never paid
        # go back to their members when the till closes
        Ledger = self.env["loyalty.ledger"].sudo()
        held = Ledger.search(
            [("pos_session_id", "in", self.ids), ("state", "=", "reserved")]
        )
        Ledger._lock_cards(held.card_id)
        held.filtered(lambda e: e.state == "reserved").write({"state": "cancelled"})
        return super()._validate_session(*args, **kwargs)
