import { PosStore } from "@point_of_sale/app/store/pos_store";
import { AlertDialog, ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { makeAwaitable } from "@point_of_sale/app/store/make_awaitable_dialog";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { LoyaltyCrmMemberPopup } from "@loyalty_crm/app/member_popup/member_popup";
import { LoyaltyCrmEnrolPopup } from "@loyalty_crm/app/enrol_popup/enrol_popup";
import { LoyaltyCrmSpendPopup } from "@loyalty_crm/app/spend_popup/spend_popup";
import { maxSpendablePoints } from "@loyalty_crm/app/utils/loyalty_format";
import { loyaltyCrmReserveWithCode } from "@loyalty_crm/app/otp_popup/otp_popup";

/**
 * The bonus program at the till: find or enrol the member, spend points.
 * Every number (balance, discount, points earned) comes from the server; the
 * only number the till sends is how many points to reserve.
 *
 * Each step is a method of its own so that another module can add one (a
 * one-time code before spending, ...) with ``patch(PosStore.prototype, ...)``.
 */
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

    /** The member attached to the current order (false when none). */
    get loyaltyCrmMember() {
        const order = this.get_order();
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
            confirmLabel: _t("Close"),
        });
    },
    async loyaltyCrmCall(method, args) {
        return await this.data.call("pos.config", method, [[this.config.id], ...args]);
    },
    /**
     * Attach the member to the current order. A return stays with the
     * customer who bought (as Odoo's own customer button does): its points
     * are that customer's. Returns false when refused.
     */
    async loyaltyCrmSetMember(member) {
        const order = this.get_order();
        const current = order.get_partner();
        if (current && current.id !== member.partner_id && order.getHasRefundLines()) {
            this.loyaltyCrmRefuse(
                _t(
                    "This order returns a purchase of %(buyer)s: it can't be given to another member. Start a new order for %(member)s.",
                    { buyer: current.name, member: member.name }
                )
            );
            return false;
        }
        let partner = this.models["res.partner"].get(member.partner_id);
        if (!partner) {
            const records = await this.data.read("res.partner", [member.partner_id]);
            partner = records[0];
        }
        if (order.get_partner()?.id !== partner.id) {
            order.set_partner(partner);
        }
        order.uiState.loyaltyCrmMember = member;
        return true;
    },

    // ------------------------------------------------------------ find / enrol
    async loyaltyCrmFindMember() {
        const answer = await makeAwaitable(this.dialog, LoyaltyCrmMemberPopup, {
            title: _t("Bonus card"),
        });
        if (!answer) {
            return;
        }
        if (answer.enrol) {
            return await this.loyaltyCrmEnrol(answer.term);
        }
        const result = await this.loyaltyCrmCall("loyalty_crm_lookup", [answer.term]);
        if (result.ok) {
            if (!(await this.loyaltyCrmSetMember(result.member))) {
                return;
            }
            // a scanned card identifies the member; a phone needs the SMS code to spend
            this.get_order().uiState.loyaltyCrmCard =
                answer.term === result.member.card ? answer.term : null;
            return;
        }
        if (result.code === "not_found") {
            // offer to enrol the customer, with the phone already typed
            this.dialog.add(ConfirmationDialog, {
                title: _t("No member found"),
                body: _t(
                    "No member has card or phone %(term)s. Enrol this customer in the bonus program?",
                    { term: answer.term }
                ),
                confirmLabel: _t("Enrol a new member"),
                confirm: () => this.loyaltyCrmEnrol(answer.term),
                cancelLabel: _t("Close"),
                cancel: () => {},
            });
            return;
        }
        return this.loyaltyCrmRefuse(result.message);
    },
    async loyaltyCrmEnrol(term = "") {
        const options = await this.loyaltyCrmCall("loyalty_crm_enrol_options", []);
        const values = await makeAwaitable(this.dialog, LoyaltyCrmEnrolPopup, {
            title: _t("Enrol in the bonus program"),
            phone: /^[0-9+() -]+$/.test(term) ? term : "",
            channels: options.channels,
            sources: options.sources,
            genders: options.genders,
        });
        if (!values) {
            return;
        }
        const result = await this.loyaltyCrmCall("loyalty_crm_enrol", [values]);
        if (!result.ok) {
            return this.loyaltyCrmRefuse(result.message);
        }
        // the card exists from here, whether or not this order may carry it
        this.notification.add(
            _t("Card %(card)s issued to %(name)s.", {
                card: result.member.card,
                name: result.member.name,
            }),
            { type: "success" }
        );
        if (await this.loyaltyCrmSetMember(result.member)) {
            this.get_order().uiState.loyaltyCrmCard = result.member.card; // issued here
        }
    },

    // ------------------------------------------------------------ spend
    loyaltyCrmDiscountLines(order, member) {
        return order
            .get_orderlines()
            .filter((line) => line.product_id.id === member.discount_product_id);
    },
    /** The order's amount before the points discount (tax included). */
    loyaltyCrmOrderAmount(order, member) {
        return order
            .get_orderlines()
            .filter((line) => line.product_id.id !== member.discount_product_id)
            .reduce((total, line) => total + line.get_price_with_tax(), 0);
    },
    /** Ask the cashier how many points; resolves with a whole number or null. */
    async loyaltyCrmAskPoints(order, member) {
        const maximum = maxSpendablePoints(member, this.loyaltyCrmOrderAmount(order, member));
        const points = await makeAwaitable(this.dialog, LoyaltyCrmSpendPopup, {
            title: _t("Spend bonus points"),
            member,
            maximum,
            formatCurrency: (value) => this.env.utils.formatCurrency(value),
        });
        return points === undefined ? null : points;
    },
    async loyaltyCrmSpend() {
        const member = this.loyaltyCrmMember;
        const order = this.get_order();
        if (!member || !order) {
            return;
        }
        const points = await this.loyaltyCrmAskPoints(order, member);
        if (points === null) {
            return;
        }
        return await this.loyaltyCrmReserve(order, member, points);
    },
    /** Reserve ``points`` on the server and put its discount line on the order. */
    async loyaltyCrmReserve(order, member, points) {
        // a member found by phone confirms spending with an SMS code (loyalty.otp)
        const result = await loyaltyCrmReserveWithCode(
            this.dialog,
            makeAwaitable,
            (method, args) => this.loyaltyCrmCall(method, args),
            [
                order.uuid,
                member.partner_id,
                points,
                this.loyaltyCrmOrderAmount(order, member),
                { card: order.uiState.loyaltyCrmCard },
            ],
            _t("SMS code")
        );
        if (result.cancelled) {
            return;
        }
        if (!result.ok) {
            return this.loyaltyCrmRefuse(result.message);
        }
        for (const line of this.loyaltyCrmDiscountLines(order, member)) {
            order.removeOrderline(line);
        }
        if (result.points) {
            await this.addLineToCurrentOrder(
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
        return result;
    },
});
