import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * A manager opens the bonus program's dashboard, changes the period, reads the
 * payback, tiers, stores and portrait pages, then every report in each view.
 */
function openReporting(menu) {
    return [
        {
            trigger: 'button[data-menu-xmlid="loyalty_crm.loyalty_crm_menu_reporting"]',
            run: "click",
        },
        {
            trigger: `a[data-menu-xmlid="loyalty_crm.${menu}"]`,
            run: "click",
        },
    ];
}

function switchViews(model) {
    return [
        {
            content: `${model}: pivot`,
            trigger: ".o_pivot_view .o_pivot",
        },
        {
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            content: `${model}: graph`,
            trigger: ".o_graph_view .o_graph_renderer",
        },
        {
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            content: `${model}: list`,
            trigger: ".o_list_view .o_list_table",
        },
    ];
}

registry.category("web_tour.tours").add("loyalty_crm_analytics_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("loyalty_crm.loyalty_crm_menu_root"),
        ...openReporting("loyalty_dashboard_menu"),
        {
            content: "The dashboard shows the members",
            trigger: ".o_form_view .o_field_widget[name=members_total]:contains(1)",
        },
        {
            trigger: ".o_field_widget[name=period] select",
            run: "select \"month\"",
        },
        {
            trigger: ".o_notebook a[name=payback]",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=roi_net_monthly]",
        },
        {
            trigger: ".o_notebook a[name=tiers]",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=tier_html] table",
        },
        {
            trigger: ".o_notebook a[name=stores]",
            run: "click",
        },
        {
            content: "The store is listed with the member's purchase",
            trigger: ".o_field_widget[name=store_html] td:contains(Магазин для тура)",
        },
        {
            trigger: ".o_notebook a[name=portrait]",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=portrait_html] table",
        },
        {
            trigger: ".o_form_view button[name=action_open_purchases]",
            run: "click",
        },
        ...switchViews("purchases"),
        ...openReporting("loyalty_points_report_menu"),
        ...switchViews("points"),
        ...openReporting("loyalty_member_report_menu"),
        ...switchViews("portrait"),
        ...openReporting("loyalty_purchase_report_menu"),
        ...switchViews("purchases menu"),
        ...openReporting("loyalty_dashboard_menu"),
        {
            trigger: ".o_form_view button[name=action_open_portrait]",
            run: "click",
        },
        {
            trigger: ".o_pivot_view .o_pivot",
        },
    ],
});
