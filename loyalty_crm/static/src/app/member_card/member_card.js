import { Component } from "@odoo/owl";
import { usePos } from "@point_of_sale/app/store/pos_hook";
import { formatPoints, formatPointsDate } from "@loyalty_crm/app/utils/loyalty_format";

/**
 * The member of the current order, in the order summary (where pos_loyalty
 * shows its points): name, card, tier, available / pending / expiring points
 * and the "Spend" button; "Bonus card" finds or enrols a member.
 */
export class LoyaltyCrmMemberCard extends Component {
    static template = "loyalty_crm.MemberCard";
    static props = {};

    setup() {
        this.pos = usePos();
    }
    get member() {
        return this.pos.loyaltyCrmMember;
    }
    formatPoints(value) {
        return formatPoints(value);
    }
    formatDate(value) {
        return formatPointsDate(value);
    }
}
