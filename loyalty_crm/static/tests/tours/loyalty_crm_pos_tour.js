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

function payCash() {
    return [
        ProductScreen.clickPayButton(),
        PaymentScreen.clickPaymentMethod("Cash"),
        PaymentScreen.clickValidate(),
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
            refused("No member with card or phone"),
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
            // more than the cap (30 % of 1000): refused by the server
            { trigger: ".o_lc_spend_button", run: "click" },
            NumberPopup.enterValue("400"),
            Dialog.confirm(),
            refused("at most 30.0 %"),
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
            findMember("8 916 111-22-33"),
            refused("No member with card or phone"),
            { trigger: ".o_lc_member_button", run: "click" },
            { trigger: ".modal .o_lc_member_term", run: "edit 8 916 111-22-33" },
            { trigger: ".modal .o_lc_member_enrol", run: "click" },
            { trigger: ".modal .o_lc_enrol_name", run: "edit Мария Кассова" },
            { trigger: ".modal .o_lc_enrol_phone", run: "edit 8 916 111-22-33" },
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
            { trigger: ".o_lc_receipt .o_lc_receipt_earned:contains(-22.5)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_spent:contains(-50)" },
            { trigger: ".o_lc_receipt .o_lc_receipt_balance:contains(417.5)" },
            ReceiptScreen.clickNextOrder(),
        ].flat(Infinity),
});
