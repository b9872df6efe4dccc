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
