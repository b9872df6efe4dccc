import { TicketScreen } from "@point_of_sale/app/screens/ticket_screen/ticket_screen";
import { patch } from "@web/core/utils/patch";

/**
 * A return of an order paid partly with bonus points also returns the same
 * share of its points discount line: the customer gets the points back (the
 * server gives them), not their value in money.
 */
patch(TicketScreen.prototype, {
    async onDoRefund() {
        const order = this.getSelectedOrder();
        if (order) {
            this.loyaltyCrmReturnPointsShare(order);
        }
        return await super.onDoRefund(...arguments);
    },
    loyaltyCrmReturnPointsShare(order) {
        const productIds = this.pos.session._loyalty_crm_discount_product_ids || [];
        const isDiscount = (line) => productIds.includes(line.product_id.id);
        const discountLines = order.lines.filter((line) => isDiscount(line) && line.qty > 0);
        if (!discountLines.length) {
            return;
        }
        const paidLines = order.lines.filter((line) => !isDiscount(line) && line.qty > 0);
        const base = paidLines.reduce((total, line) => total + line.get_price_with_tax(), 0);
        const returned = paidLines.reduce((total, line) => {
            const detail = order.uiState.lineToRefund[line.uuid];
            return total + (detail ? (detail.qty / line.qty) * line.get_price_with_tax() : 0);
        }, 0);
        if (!base || !returned) {
            return;
        }
        const share = Math.min(returned / base, 1);
        for (const line of discountLines) {
            const detail = this.getToRefundDetail(line);
            const left = line.qty - (line.refunded_qty || 0);
            // a quantity of the unit's precision (0.01), as the server stores it
            detail.qty = Math.min(Math.round(share * line.qty * 100) / 100, left);
        }
    },
});
