import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * From the CRM app, a marketer builds a segment, previews its size, creates a campaign from it,
 * picks a template and launches it.
 */
registry.category("web_tour.tours").add("loyalty_crm_campaign_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("crm.crm_menu_root"),
        {
            trigger: 'button[data-menu-xmlid="loyalty_crm.loyalty_crm_menu_crm_marketing"]',
            run: "click",
        },
        {
            trigger: 'a[data-menu-xmlid="loyalty_crm.loyalty_segment_menu_crm"]',
            run: "click",
        },
        {
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Tour women",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=gender] select",
            run: 'select "female"',
        },
        {
            content: "The segment shows its size before it is saved",
            trigger: ".o_form_view .o_form_button_save:visible",
        },
        {
            trigger: "button[name=action_preview] .o_stat_value:contains(2)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=gender] select:contains(Female)",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The segment shows its size",
            trigger: "button[name=action_preview] .o_stat_value:contains(2)",
        },
        {
            trigger: "button[name=action_create_campaign]",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=segment_id] input:value(Tour women)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=mail_template_id] input",
            run: "edit Campaign: birthday",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Campaign: birthday)",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=mail_template_id] input:value(Campaign: birthday)",
        },
        {
            trigger: ".o_form_view button[name=action_launch_confirm]",
            run: "click",
        },
        {
            content: "Before sending: whom it will reach, and why not the others",
            trigger: ".modal .o_lc_launch_estimate .o_lc_launch_reach:contains(1)",
        },
        {
            trigger: ".modal .o_lc_launch_estimate .o_lc_launch_audience:contains(2)",
        },
        {
            trigger: ".modal .o_lc_launch_no_consent:contains(1)",
        },
        {
            content: "Nothing is queued before the marketer confirms",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Draft)",
        },
        {
            trigger: ".modal .o_lc_launch_confirm",
            run: "click",
        },
        {
            content: "The campaign is queued: the campaign cron sends it",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Scheduled)",
        },
    ],
});
