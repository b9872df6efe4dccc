import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * A manager opens the bonus program's dashboard: the figures and the four trend
 * charts render, the period changes, a figure opens the report behind it
 * (filtered, breadcrumb back to the dashboard), a store row too; then every
 * report in each of its views.
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
            trigger: ".o_graph_view .o_graph_renderer canvas",
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

function chartDrawn(name) {
    return {
        content: `The chart ${name} is drawn`,
        trigger: `.o_loyalty_chart[data-name=${name}] canvas`,
        run() {
            const chart = window.Chart && window.Chart.getChart(this.anchor);
            if (!chart || !chart.data.datasets.length || !chart.data.labels.length) {
                throw new Error(`chart ${name} not rendered`);
            }
        },
    };
}

registry.category("web_tour.tours").add("loyalty_crm_analytics_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("loyalty_crm.loyalty_crm_menu_root"),
        ...openReporting("loyalty_dashboard_menu"),
        {
            content: "The dashboard shows the member",
            trigger: ".o_loyalty_kpi[data-kpi=members_total] .o_loyalty_kpi_value:contains(1)",
        },
        {
            content: "Money in the Russian format: 1 500,00",
            trigger: ".o_loyalty_kpi[data-kpi=avg_check_member] .o_loyalty_kpi_value:contains(500,00)",
            run() {
                const text = this.anchor.textContent;
                if (!/1\s500,00/.test(text)) {
                    throw new Error(`not in the Russian format: ${text}`);
                }
            },
        },
        chartDrawn("members"),
        chartDrawn("avg_check"),
        chartDrawn("points"),
        chartDrawn("liability"),
        {
            content: "The store is listed with the member's purchase",
            trigger: ".o_loyalty_stores td:contains(Магазин для тура)",
        },
        {
            trigger: ".o_loyalty_periods button[data-months='12']",
            run: "click",
        },
        {
            trigger: ".o_loyalty_periods button.btn-primary[data-months='12']",
        },
        chartDrawn("members"),
        {
            content: "Payback inputs change the estimate",
            trigger: ".o_loyalty_payback input[name=setup_cost]",
            run: "edit 1000000000",
        },
        {
            trigger: ".o_loyalty_payback .o_loyalty_payback_months .text-warning",
        },
        {
            content: "A figure opens the report behind it",
            trigger: ".o_loyalty_kpi[data-kpi=purchases_member]",
            run: "click",
        },
        {
            trigger: ".o_pivot_view .o_pivot",
        },
        {
            content: "Back to the dashboard by its name",
            trigger: ".o_breadcrumb a:contains(Панель)",
            run: "click",
        },
        {
            trigger: ".o_loyalty_stores td:contains(Магазин для тура)",
            run: "click",
        },
        ...switchViews("purchases of a store"),
        ...openReporting("loyalty_points_report_menu"),
        ...switchViews("points"),
        ...openReporting("loyalty_member_report_menu"),
        ...switchViews("portrait"),
        ...openReporting("loyalty_purchase_report_menu"),
        ...switchViews("purchases menu"),
    ],
});
