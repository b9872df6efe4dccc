import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * A cashier enrols a customer from the Loyalty app, then finds them again by
 * typing the phone number in another notation, and opens their card.
 */
registry.category("web_tour.tours").add("loyalty_crm_members_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("loyalty_crm.loyalty_crm_menu_root"),
        {
            trigger: 'button[data-menu-xmlid="loyalty_crm.loyalty_crm_menu_members_root"]',
            run: "click",
        },
        {
            trigger: 'a[data-menu-xmlid="loyalty_crm.loyalty_enrol_wizard_menu"]',
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Пётр Тестов",
        },
        {
            trigger: ".modal .o_field_widget[name=phone] input",
            run: "edit 8 (916) 765-43-21",
        },
        {
            trigger: ".modal .o_field_widget[name=consent] input",
            run: "click",
        },
        {
            trigger: ".modal button[name=action_enrol]",
            run: "click",
        },
        {
            content: "The member's form shows the phone in E.164 and the card",
            trigger: ".o_form_view .o_field_widget[name=phone] input:value(+79167654321)",
        },
        {
            trigger: 'button[data-menu-xmlid="loyalty_crm.loyalty_crm_menu_members_root"]',
            run: "click",
        },
        {
            trigger: 'a[data-menu-xmlid="loyalty_crm.res_partner_menu_member"]',
            run: "click",
        },
        {
            trigger: ".o_searchview_input",
            run: "edit +7 916 765 43 21",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            trigger: ".o_list_view .o_data_row:only-child td[name=name]:contains(Пётр Тестов)",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_loyalty_open_card]",
            run: "click",
        },
        {
            content: "The cashier reports the card lost",
            trigger: ".o_form_view button[name=action_loyalty_replace]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=reason] input",
            run: "edit Потеряна в магазине",
        },
        {
            content: "Only a Loyalty Manager chooses the new number: the cashier's is generated",
            trigger: ".modal:not(:has(.o_field_widget[name=new_code]))",
        },
        {
            trigger: ".modal button[name=action_replace]",
            run: "click",
        },
        {
            content: "The new card is shown, active, with the old one in its history",
            trigger: ".o_form_view .o_field_widget[name=replaces_id]",
        },
    ],
});

/**
 * A salesperson lets a member pay part of a quotation with points.
 */
registry.category("web_tour.tours").add("loyalty_crm_sale_points_tour", {
    steps: () => [
        {
            trigger: ".o_form_view button[name=action_loyalty_spend_points]",
            run: "click",
        },
        {
            content: "The wizard proposes the most points the rules allow",
            trigger: ".modal .o_field_widget[name=max_points]:contains(300)",
        },
        {
            trigger: ".modal .o_field_widget[name=points] input",
            run: "edit 120",
        },
        {
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "The quotation is reloaded with the points deducted",
            trigger: ".o_form_view button[name=action_loyalty_remove_points]",
        },
        {
            trigger: ".o_field_widget[name=tax_totals]:contains(880)",
        },
    ],
});
