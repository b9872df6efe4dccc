import { PaymentScreen } from "@point_of_sale/app/screens/payment_screen/payment_screen";
import { AlertDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { sprintf } from "@web/core/utils/strings";

/**
 * A return reverses the bonus points of the sale it returns: it must be the
 * same product, sold to the same customer, and not returned already. The server
 * checks it again when the order syncs (and never refuses a paid order); the
 * till refuses it before the customer is paid back.
 */
patch(PaymentScreen.prototype, {
    async _isOrderValid(isForceValidate) {
        const problem = this.loyaltyCrmReturnProblem(this.currentOrder);
        if (problem) {
            this.dialog.add(AlertDialog, {
                title: _t("This return cannot be accepted"),
                body: problem,
            });
            return false;
        }
        return await super._isOrderValid(...arguments);
    },
    loyaltyCrmReturnProblem(order) {
        const partner = order.get_partner();
        for (const line of order.get_orderlines()) {
            const origin = line.refunded_orderline_id;
            if (!origin || !(line.qty < 0)) {
                continue;
            }
            if (origin.product_id?.id !== line.product_id?.id) {
                return sprintf(
                    _t("%s is returned against a sale of %s: return the product that was sold."),
                    line.product_id?.display_name || "",
                    origin.product_id?.display_name || ""
                );
            }
            const buyer = origin.order_id?.partner_id;
            if (partner && buyer && partner.id !== buyer.id) {
                return sprintf(
                    _t(
                        "%s was bought by %s, not by %s: return it with the customer who bought it."
                    ),
                    line.product_id?.display_name || "",
                    buyer.name,
                    partner.name
                );
            }
        }
        return false;
    },
});
