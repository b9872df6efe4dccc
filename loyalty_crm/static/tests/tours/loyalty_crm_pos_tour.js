import * as Chrome from "@point_of_sale/../tests/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/tours/utils/dialog_util";
import * as NumberPopup from "@point_of_sale/../tests/tours/utils/number_popup_util";
import * as PaymentScreen from "@point_of_sale/../tests/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/tours/utils/receipt_screen_util";
import * as TicketScreen from "@point_of_sale/../tests/tours/utils/ticket_screen_util";
import { registry } from "@web/core/registry";

function findMember(term) {
    return [
        { trigger: ".o_lc_member_button", run: "click" },
        { trigger: ".modal .o_lc_member_term", run: `edit ${term}` },
        { trigger: ".modal .o_lc_member_find", run: "click" },
    ];
}

function memberShown(name, points) {
    return [
        { trigger: `.o_lc_member_panel .o_lc_member_name:contains("${name}")` },
        { trigger: `.o_lc_member_panel .o_lc_member_points:contains("${points}")` },
    ];
}

function refused(text) {
    return [
        { trigger: `.modal .modal-body:contains("${text}")` },
        Dialog.confirm(),
        Dialog.isNot(),
    ];
}

function notFoundOffersEnrolment(term) {
    return [
        { trigger: `.modal .modal-body:contains("${term}")` },
        { trigger: ".modal .modal-footer button:contains(Enrol a new member)" },
        { trigger: ".modal .modal-footer button:contains(Close)", run: "click" },
        Dialog.isNot(),
    ];
}

function payCash() {
    return [
        ProductScreen.clickPayButton(),
        PaymentScreen.clickPaymentMethod("Cash"),
        PaymentScreen.clickValidate(),
        // the order syncs and the server settles its points: on a loaded
        // machine this takes longer than a step's default 10 s
        { content: "order synced", trigger: ".pos .receipt-screen", timeout: 60000 },
        ReceiptScreen.isShown(),
    ].flat();
}

/**
 * A blocked card is refused; the member is found by phone (another notation)
 * and by card; part of the balance pays the order; the receipt shows what the
 * server settled (100 spent, 5 % of 900 earned, new balance).
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_sale_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            findMember("0430000000551"),
            refused("Blocked"),
            findMember("0000000000"),
            notFoundOffersEnrolment("0000000000"),
            findMember("8 (916) 555-44-33"),
            memberShown("Анна Петрова", "500"),
            // points held for an order that is then deleted come back at once
            ProductScreen.addOrderline("Куртка", "1"),
            { trigger: ".o_lc_spend_button", run: "click" },
            NumberPopup.enterValue("50"),
            Dialog.confirm(),
            memberShown("Анна Петрова", "450"),
            ProductScreen.clickControlButtonMore(),
            { trigger: ".modal button:contains(Cancel Order)", run: "click" },
            Dialog.confirm(),
            ProductScreen.orderIsEmpty(),
            findMember("0430000000550"),
            memberShown("Анна Петрова", "500"),
            ProductScreen.addOrderline("Куртка", "1"),
            // more than the cap (30 % of 1000): the popup says the maximum
            { trigger: ".o_lc_spend_button", run: "click" },
            { trigger: ".modal .o_lc_spend_maximum:contains(300)" },
            NumberPopup.enterValue("400"),
            { trigger: ".modal .o_lc_spend_feedback.text-danger:contains(300)" },
            { trigger: ".modal .o_lc_spend_confirm[disabled]" },
            { trigger: ".modal .modal-footer button:contains(Cancel)", run: "click" },
            Dialog.isNot(),
            { trigger: ".o_lc_spend_button", run: "click" },
            NumberPopup.enterValue("100"),
            Dialog.confirm(),
            memberShown("Анна Петрова", "400"),
            ProductScreen.totalAmountIs("900.00"),
            payCash(),
            { trigger: ".o_lc_receipt .o_lc_receipt_card:contains(0430000000550)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_spent:contains(100)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_earned:contains(45)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_balance:contains(445)" },
            ReceiptScreen.clickNextOrder(),
        ].flat(Infinity),
});

/**
 * A new customer is enrolled at the till; the card is issued at once, the
 * purchase earns points and the receipt carries the new card.
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_enrol_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            // not found: the till offers to enrol, with the typed phone
            findMember("8 916 111-22-33"),
            { trigger: ".modal .modal-body:contains(8 916 111-22-33)" },
            { trigger: ".modal .modal-footer button:contains(Enrol a new member)", run: "click" },
            { trigger: ".modal .o_lc_enrol_phone:value(8 916 111-22-33)" },
            { trigger: ".modal .o_lc_enrol_name", run: "edit Мария Кассова" },
            { trigger: ".modal .o_lc_enrol_source", run: "selectByLabel Витрина" },
            { trigger: ".modal .o_lc_enrol_gender", run: "select female" },
            { trigger: ".modal .o_lc_enrol_channel:first", run: "click" },
            { trigger: ".modal .o_lc_enrol_consent", run: "click" },
            { trigger: ".modal .o_lc_enrol_confirm", run: "click" },
            memberShown("Мария Кассова", "0"),
            ProductScreen.addOrderline("Куртка", "1"),
            payCash(),
            { trigger: ".o_lc_receipt .o_lc_receipt_card:contains(043)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_earned:contains(50)" },
            ReceiptScreen.clickNextOrder(),
        ].flat(Infinity),
});

/**
 * An order paid partly with points is returned at the till: the server takes
 * back what it earned and gives back what it spent.
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_refund_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            Chrome.clickMenuOption("Orders"),
            TicketScreen.selectFilter("Paid"),
            TicketScreen.selectOrderByPrice("900.00"),
            // only the jacket: its share of the points discount goes with it
            ProductScreen.clickNumpad("1"),
            TicketScreen.confirmRefund(),
            ProductScreen.totalAmountIs("-900.00"),
            payCash(),
            { trigger: ".o_lc_receipt .o_lc_receipt_earned:contains(-45)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_spent:contains(-100)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_balance:contains(500)" },
            ReceiptScreen.clickNextOrder(),
        ].flat(Infinity),
});

/**
 * A return stays with the member who bought: the member button refuses to
 * give the return to another member, and a till whose order was changed
 * behind the screens (the browser's console) is refused at the payment
 * screen, before the customer is paid back.
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_return_other_member_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            Chrome.clickMenuOption("Orders"),
            TicketScreen.selectFilter("Paid"),
            TicketScreen.selectOrderByPrice("1,000.00"),
            ProductScreen.clickNumpad("1"),
            TicketScreen.confirmRefund(),
            ProductScreen.totalAmountIs("-1,000.00"),
            findMember("+7 916 555-44-11"),
            refused("can't be given to another member"),
            {
                content: "the return is still Анна Петрова's",
                trigger: ".product-screen",
                run() {
                    const name = window.posmodel.get_order().get_partner()?.name;
                    if (name !== "Анна Петрова") {
                        throw new Error(`the return's customer is ${name}`);
                    }
                },
            },
            {
                content: "a tampered till gives the return to another member",
                trigger: ".product-screen",
                async run() {
                    const pos = window.posmodel;
                    const ids = await pos.data.call("res.partner", "search", [
                        [["name", "=", "Виктор Чужой"]],
                    ]);
                    const [other] = await pos.data.read("res.partner", ids);
                    pos.get_order().set_partner(other);
                },
            },
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            { trigger: ".modal-title:contains(This return cannot be accepted)" },
            refused("was bought by Анна Петрова, not by Виктор Чужой"),
            { content: "not paid back", trigger: ".pos .payment-screen" },
        ].flat(Infinity),
});

/**
 * Only one product of an order paid partly with points is returned: the same
 * share of the points discount goes with it (the till adds it), the server
 * gives back that share of the points spent and takes back that share of the
 * points earned.
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_partial_refund_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            Chrome.clickMenuOption("Orders"),
            TicketScreen.selectFilter("Paid"),
            TicketScreen.selectOrderByPrice("1,800.00"),
            { trigger: ".ticket-screen .orderline:contains(Шапка)", run: "click" },
            ProductScreen.clickNumpad("1"),
            TicketScreen.confirmRefund(),
            ProductScreen.totalAmountIs("-450.00"),
            payCash(),
            // whole points: -22.5 earned back shows -22, the balance 417.5 shows 417
            { trigger: ".o_lc_receipt .o_lc_receipt_earned:contains(-22)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_spent:contains(-50)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_balance:contains(417)" },
            ReceiptScreen.clickNextOrder(),
        ].flat(Infinity),
});

/**
 * Every control button of the product screen is on screen (not under the
 * product grid, not cut) and at least 60 px wide: the member has its own
 * place in the order summary, not among the buttons.
 */
function controlButtonsFit() {
    // What fails the check, or null. A toast or a closing dialog may lie over
    // the row for a moment: the step waits up to 10 s for the layout to settle
    // and only then fails, naming what covers the button.
    function misfit() {
        const row = document.querySelector(".product-screen .pads .control-buttons");
        const buttons = [...row.querySelectorAll(":scope > button")];
        if (buttons.length < 3) {
            return `expected the control buttons, found ${buttons.length}`;
        }
        if (row.querySelector(".o_lc_member_panel, .o_lc_member_button")) {
            return "the bonus program is among the control buttons";
        }
        for (const button of buttons) {
            const rect = button.getBoundingClientRect();
            const label = button.textContent.trim() || button.className;
            const hit = document.elementFromPoint(
                rect.left + rect.width / 2,
                rect.top + rect.height / 2
            );
            if (
                rect.width < 60 ||
                rect.right > window.innerWidth + 0.5 ||
                rect.bottom > window.innerHeight + 0.5 ||
                !button.contains(hit)
            ) {
                const cover = hit ? `${hit.tagName.toLowerCase()}.${hit.className}` : "nothing";
                return (
                    `control button "${label}" is ${Math.round(rect.width)} px wide at ` +
                    `${Math.round(rect.left)},${Math.round(rect.top)} in a ` +
                    `${window.innerWidth}x${window.innerHeight} window, its centre shows ${cover}`
                );
            }
        }
        return null;
    }
    return {
        content: "all control buttons visible and at least 60 px wide",
        trigger: ".product-screen .pads .control-buttons .more-btn",
        async run() {
            let problem = misfit();
            for (let waited = 0; problem && waited < 10000; waited += 200) {
                await new Promise((resolve) => setTimeout(resolve, 200));
                problem = misfit();
            }
            if (problem) {
                throw new Error(problem);
            }
        },
    };
}

/**
 * The till with a member attached, at the window size of the test: the
 * member block in the order summary with whole, grouped points and a
 * formatted date; the control buttons fit; the spend popup shows the
 * balance, the maximum for the order and the value of a point, and spends
 * the maximum; the receipt carries one loyalty block that says when the
 * pending points arrive.
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_layout_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            findMember("+7 916 555-44-33"),
            { trigger: ".product-screen .o_lc_member_panel .o_lc_member_points:contains(4,872)" },
            {
                content: "no kopecks of points, a formatted expiry date",
                trigger: ".product-screen .o_lc_member_panel:not(:contains(4872.96))",
            },
            { trigger: ".o_lc_member_panel .o_lc_member_expiring:contains(120)" },
            { trigger: ".o_lc_member_panel:contains(/20)" },
            ProductScreen.addOrderline("Куртка", "1"),
            controlButtonsFit(),
            { trigger: ".o_lc_spend_button", run: "click" },
            { trigger: ".modal .o_lc_spend_balance:contains(4,872)" },
            { trigger: ".modal .o_lc_spend_maximum:contains(300)" },
            { trigger: ".modal .o_lc_spend_point_value:contains(1.00)" },
            { trigger: ".modal .o_lc_spend_max:contains(300)", run: "click" },
            { trigger: ".modal .o_lc_spend_feedback:contains(300.00)" },
            { trigger: ".modal .o_lc_spend_confirm:not([disabled])", run: "click" },
            Dialog.isNot(),
            { trigger: ".orderline:contains(Оплата баллами)" },
            ProductScreen.totalAmountIs("700.00"),
            { trigger: ".o_lc_member_panel .o_lc_member_points:contains(4,572)" },
            controlButtonsFit(),
            payCash(),
            {
                content: "one loyalty block on the receipt (not Odoo's own beside it)",
                trigger: ".pos-receipt .o_lc_receipt",
                run() {
                    const receipt = document.querySelector(".pos-receipt");
                    const ours = receipt.querySelectorAll(".o_lc_receipt").length;
                    const native = receipt.querySelectorAll(".loyalty").length;
                    if (ours !== 1 || native !== 0) {
                        throw new Error(`loyalty blocks: ours ${ours}, Odoo's ${native}`);
                    }
                },
            },
            { trigger: ".o_lc_receipt .o_lc_receipt_spent:contains(300)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_earned:contains(35)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_pending:contains(can be spent from)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_balance:contains(4,572)" },
            ReceiptScreen.clickNextOrder(),
        ].flat(Infinity),
});
