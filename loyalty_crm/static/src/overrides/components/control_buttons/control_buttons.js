import { ControlButtons } from "@point_of_sale/app/screens/product_screen/control_buttons/control_buttons";
import { AlertDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { NumberPopup } from "@point_of_sale/app/utils/input_popups/number_popup";
import { makeAwaitable } from "@point_of_sale/app/store/make_awaitable_dialog";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { LoyaltyCrmMemberPopup } from "@loyalty_crm/app/member_popup/member_popup";
import { LoyaltyCrmEnrolPopup } from "@loyalty_crm/app/enrol_popup/enrol_popup";
import { loyaltyCrmReserveWithCode } from "@loyalty_crm/app/otp_popup/otp_popup";

/**
 * The bonus program at the till: find or enrol the member, spend points.
 * Every number (balance, discount, points earned) comes from the server.
 */
patch(ControlButtons.prototype, {
    get loyaltyCrmMember() {
        const order = this.pos.get_order();
        const member = order?.uiState?.loyaltyCrmMember;
        if (!member || order.get_partner()?.id !== member.partner_id) {
            return false;
        }
        return member;
    },
    loyaltyCrmRefuse(message) {
        this.dialog.add(AlertDialog, {
            title: _t("Bonus program"),
            body: message,
        });
    },
    async loyaltyCrmCall(method, args) {
        return await this.pos.data.call("pos.config", method, [[this.pos.config.id], ...args]);
    },
    async loyaltyCrmSetMember(member) {
        const order = this.pos.get_order();
        let partner = this.pos.models["res.partner"].get(member.partner_id);
        if (!partner) {
            const records = await this.pos.data.read("res.partner", [member.partner_id]);
            partner = records[0];
        }
        if (order.get_partner()?.id !== partner.id) {
            order.set_partner(partner);
        }
        order.uiState.loyaltyCrmMember = member;
    },
    async onClickLoyaltyCrmMember() {
        const answer = await makeAwaitable(this.dialog, LoyaltyCrmMemberPopup, {
            title: _t("Bonus card"),
        });
        if (!answer) {
            return;
        }
        if (answer.enrol) {
            return await this.onClickLoyaltyCrmEnrol(answer.term);
        }
        const result = await this.loyaltyCrmCall("loyalty_crm_lookup", [answer.term]);
        if (!result.ok) {
            return this.loyaltyCrmRefuse(result.message);
        }
        await this.loyaltyCrmSetMember(result.member);
        // a scanned card identifies the member; a phone needs the SMS code to spend
        this.pos.get_order().uiState.loyaltyCrmCard =
            answer.term === result.member.card ? answer.term : null;
    },
    async onClickLoyaltyCrmEnrol(term = "") {
        const options = await this.loyaltyCrmCall("loyalty_crm_enrol_options", []);
        const values = await makeAwaitable(this.dialog, LoyaltyCrmEnrolPopup, {
            title: _t("Enrol in the bonus program"),
            phone: /^[0-9+() -]+$/.test(term) ? term : "",
            channels: options.channels,
            sources: options.sources,
        });
        if (!values) {
            return;
        }
        const result = await this.loyaltyCrmCall("loyalty_crm_enrol", [values]);
        if (!result.ok) {
            return this.loyaltyCrmRefuse(result.message);
        }
        await this.loyaltyCrmSetMember(result.member);
        this.pos.get_order().uiState.loyaltyCrmCard = result.member.card; // issued here
        this.notification.add(
            _t("Card %(card)s issued to %(name)s.", {
                card: result.member.card,
                name: result.member.name,
            }),
            { type: "success" }
        );
    },
    loyaltyCrmDiscountLines(member) {
        return this.pos
            .get_order()
            .get_orderlines()
            .filter((line) => line.product_id.id === member.discount_product_id);
    },
    async onClickLoyaltyCrmSpend() {
        const member = this.loyaltyCrmMember;
        const order = this.pos.get_order();
        const amount = order
            .get_orderlines()
            .filter((line) => line.product_id.id !== member.discount_product_id)
            .reduce((total, line) => total + line.get_price_with_tax(), 0);
        const value = await makeAwaitable(this.dialog, NumberPopup, {
            title: _t("Spend bonus points"),
            subtitle: _t("Available: %(points)s points", { points: member.points }),
            startingValue: "",
        });
        if (value === undefined || value === null || value === "") {
            return;
        }
        const points = parseFloat(String(value).replace(",", "."));
        if (isNaN(points) || points < 0) {
            return this.loyaltyCrmRefuse(_t("Enter a positive number of points."));
        }
        const result = await loyaltyCrmReserveWithCode(
            this.dialog,
            makeAwaitable,
            (method, args) => this.loyaltyCrmCall(method, args),
            [order.uuid, member.partner_id, points, amount, { card: order.uiState.loyaltyCrmCard }],
            _t("SMS code")
        );
        if (result.cancelled) {
            return;
        }
        if (!result.ok) {
            return this.loyaltyCrmRefuse(result.message);
        }
        for (const line of this.loyaltyCrmDiscountLines(member)) {
            order.removeOrderline(line);
        }
        if (result.points) {
            await this.pos.addLineToCurrentOrder(
                {
                    product_id: result.product_id,
                    price_unit: -result.value,
                    qty: 1,
                    tax_ids: [],
                },
                {},
                false
            );
        }
        order.uiState.loyaltyCrmMember = result.member;
    },
});
