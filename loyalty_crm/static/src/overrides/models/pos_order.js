import { PosOrder } from "@point_of_sale/app/models/pos_order";
import { patch } from "@web/core/utils/patch";
import { formatPoints, formatPointsDate } from "@loyalty_crm/app/utils/loyalty_format";

patch(PosOrder.prototype, {
    /**
     * The receipt shows the bonus program as the server settled it when the
     * order synced (card, points spent and earned, when pending points
     * arrive, new balance), in whole points.
     */
    export_for_printing(baseUrl, headerData) {
        const result = super.export_for_printing(...arguments);
        if (this.loyalty_crm_card_code) {
            result.loyaltyCrm = {
                card: this.loyalty_crm_card_code,
                earned: formatPoints(this.loyalty_crm_points_earned),
                spent: formatPoints(this.loyalty_crm_points_spent),
                hasSpent: formatPoints(this.loyalty_crm_points_spent) !== "0",
                balance: formatPoints(this.loyalty_crm_balance),
                pendingDate: formatPointsDate(this.loyalty_crm_points_pending_date),
            };
        }
        return result;
    },
});
