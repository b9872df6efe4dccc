import * as Chrome from "@point_of_sale/../tests/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/tours/utils/dialog_util";
import * as NumberPopup from "@point_of_sale/../tests/tours/utils/number_popup_util";
import * as ProductScreen from "@point_of_sale/../tests/tours/utils/product_screen_util";
import { registry } from "@web/core/registry";

/**
 * The member is found by phone: spending points asks for the SMS code; a wrong
 * code is refused with the attempts left, the right one holds the points.
 */
registry.category("web_tour.tours").add("loyalty_crm_pos_otp_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            { trigger: ".o_lc_member_button", run: "click" },
            { trigger: ".modal .o_lc_member_term", run: "edit 8 916 555-77-88" },
            { trigger: ".modal .o_lc_member_find", run: "click" },
            { trigger: '.o_lc_member_panel .o_lc_member_name:contains("Анна Кодова")' },
            { trigger: ".o_lc_member_panel .o_lc_member_points:contains(500)" },
            ProductScreen.addOrderline("Куртка", "1"),
            { trigger: ".o_lc_spend_button", run: "click" },
            NumberPopup.enterValue("50"),
            Dialog.confirm(),
            { trigger: ".modal .o_lc_otp_phone:contains(-77-88)" },
            { trigger: ".modal .o_lc_otp_code", run: "edit 000000" },
            { trigger: ".modal .o_lc_otp_confirm", run: "click" },
            { trigger: ".modal .o_lc_otp_message:contains(2 attempts left)" },
            { trigger: ".modal .o_lc_otp_code", run: "edit 424242" },
            { trigger: ".modal .o_lc_otp_confirm", run: "click" },
            Dialog.isNot(),
            { trigger: ".o_lc_member_panel .o_lc_member_points:contains(450)" },
            ProductScreen.totalAmountIs("950.00"),
        ].flat(Infinity),
});
