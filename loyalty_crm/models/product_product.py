from odoo import models


class ProductProduct(models.Model):
    _inherit = "product.product"

    def _add_missing_products(self, products, config_id, data):
        """Every till loads the product of the points discount (hidden, as a
        special product), whatever its product list."""
        res = super()._add_missing_products(products, config_id, data)
        loaded = {product["id"] for product in products}
        missing = [
            product_id
            for product_id in self.env["pos.config"]
            ._loyalty_pos_discount_products()
            .ids
            if product_id not in loaded
        ]
        if missing:
            products.extend(
                self._load_product_with_domain([("id", "in", missing)], config_id)
            )
        return res
