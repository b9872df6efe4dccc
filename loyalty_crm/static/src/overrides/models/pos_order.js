import { PosOrder } from "@point_of_sale/app/models/pos_order";
import { patch } from "@web/core/utils/patch";

patch(PosOrder.prototype, {
    /**
     * The receipt shows the bonus program as the server settled it when the
     * order synced (card, points spent and earned, new balance).
     */
    export_for_printing(baseUrl, headerData) {
        const result = super.export_for_printing(...arguments);
        if (this.loyalty_crm_card_code) {
            result.loyaltyCrm = {
                card: this.loyalty_crm_card_code,
                earned: this.loyalty_crm_points_earned || 0,
                spent: this.loyalty_crm_points_spent || 0,
                balance: this.loyalty_crm_balance || 0,
            };
        }
        return result;
    },
});
