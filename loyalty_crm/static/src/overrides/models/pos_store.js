import { PosStore } from "@point_of_sale/app/store/pos_store";
import { patch } from "@web/core/utils/patch";

patch(PosStore.prototype, {
    /**
     * A deleted order gives back the points reserved for it at once (else the
     * server's cron releases them after a while).
     */
    async _onBeforeDeleteOrder(order) {
        const proceed = await super._onBeforeDeleteOrder(...arguments);
        const productIds = this.session._loyalty_crm_discount_product_ids || [];
        if (proceed && order.lines.some((line) => productIds.includes(line.product_id.id))) {
            try {
                await this.data.call("pos.config", "loyalty_crm_release", [
                    [this.config.id],
                    order.uuid,
                ]);
            } catch {
                // offline: the server releases the reservation after its timeout
            }
        }
        return proceed;
    },
});
