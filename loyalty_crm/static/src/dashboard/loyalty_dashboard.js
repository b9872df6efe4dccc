import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat, formatInteger, formatMonetary } from "@web/views/fields/formatters";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { LoyaltyChart } from "./loyalty_chart";

const { DateTime } = luxon;

/**
 * The owner's dashboard of the bonus program: figures of a period of whole
 * months, each against the period before and clickable into the report behind
 * it, trend charts, tiers, stores and the payback of the program. Everything
 * comes from one call, ``loyalty.dashboard.get_dashboard_data``.
 */
export class LoyaltyDashboard extends Component {
    static template = "loyalty_crm.Dashboard";
    static components = { LoyaltyChart };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.periods = [
            { months: 1, label: _t("Month") },
            { months: 3, label: _t("3 months") },
            { months: 6, label: _t("6 months") },
            { months: 12, label: _t("12 months") },
            { months: 24, label: _t("24 months") },
        ];
        this.state = useState({
            months: 3,
            monthTo: DateTime.now().toFormat("yyyy-MM"),
            data: null,
            roi: {},
            error: "",
        });
        onWillStart(() => this.load());
    }

    async load() {
        try {
            this.state.data = await this.orm.call(
                "loyalty.dashboard",
                "get_dashboard_data",
                [],
                {
                    months: this.state.months,
                    month_to: `${this.state.monthTo}-01`,
                    roi: this.state.roi,
                }
            );
            this.state.error = "";
        } catch (error) {
            this.state.error = error.data?.message || error.message || String(error);
        }
    }

    async setMonths(months) {
        this.state.months = months;
        await this.load();
    }

    async onMonthTo(ev) {
        if (ev.target.value) {
            this.state.monthTo = ev.target.value;
            await this.load();
        }
    }

    async onRoiInput(ev) {
        const value = parseFloat(ev.target.value.replace(",", ".").replace(/\s/g, ""));
        if (!isNaN(value)) {
            this.state.roi = { ...this.state.roi, [ev.target.name]: value };
            await this.load();
        }
    }

    async onRefresh() {
        await this.orm.call("loyalty.analytics", "action_refresh_facts", []);
        await this.load();
    }

    // ------------------------------------------------------------ formats
    get currencyId() {
        return this.state.data.currency_id;
    }
    fmt(value, format) {
        if (value === null || value === undefined || value === false) {
            return "—";
        }
        switch (format) {
            case "integer":
                return formatInteger(value);
            case "monetary":
                return formatMonetary(value, { currencyId: this.currencyId });
            case "percent":
                return `${formatFloat(value, { digits: [16, 1] })} %`;
            default:
                return formatFloat(value, { digits: [16, 2] });
        }
    }
    monthLabel(iso) {
        return DateTime.fromISO(iso).toFormat("LLL yyyy");
    }
    dateLabel(iso) {
        return DateTime.fromISO(iso).toLocaleString(DateTime.DATE_MED);
    }
    get periodLabel() {
        const { period } = this.state.data;
        return `${this.dateLabel(period.from)} — ${this.dateLabel(period.to)}`;
    }
    get previousLabel() {
        const { previous } = this.state.data;
        return `${this.dateLabel(previous.from)} — ${this.dateLabel(previous.to)}`;
    }
    get refreshedLabel() {
        const at = this.state.data.refreshed_at;
        return at
            ? DateTime.fromSQL(at, { zone: "utc" }).toLocal().toLocaleString(DateTime.DATETIME_MED)
            : _t("never");
    }

    // ------------------------------------------------------------ figures
    get cards() {
        return [
            { key: "members_total", label: _t("Members"), format: "integer", report: "members" },
            { key: "members_new", label: _t("New members"), format: "integer", report: "new_members" },
            { key: "members_active", label: _t("Active members"), format: "integer", report: "active_members" },
            { key: "members_active_share", label: _t("Active share"), format: "percent", report: "active_members" },
            { key: "purchases_member", label: _t("Members' purchases"), format: "integer", report: "member_purchases" },
            { key: "members_revenue_share", label: _t("Members' share of revenue"), format: "percent", report: "purchases" },
            { key: "avg_check_member", label: _t("Average check, members"), format: "monetary", report: "purchases" },
            { key: "avg_check_non_member", label: _t("Average check, non-members"), format: "monetary", report: "purchases" },
            { key: "avg_check_uplift", label: _t("Average check uplift"), format: "percent", report: "purchases" },
            { key: "frequency_member", label: _t("Purchases per active member"), format: "float", report: "member_purchases" },
            { key: "share_with_points", label: _t("Purchases with points spent"), format: "percent", report: "member_purchases" },
            { key: "share_new_clients", label: _t("New customers"), format: "percent", report: "purchases" },
            { key: "points_issued", label: _t("Points issued"), format: "integer", report: "points" },
            { key: "points_spent", label: _t("Points spent"), format: "integer", report: "points" },
            { key: "redemption_rate", label: _t("Redemption rate"), format: "percent", report: "points" },
            { key: "breakage_rate", label: _t("Breakage"), format: "percent", report: "points" },
            { key: "liability_value", label: _t("Points liability"), format: "monetary", report: "liability" },
            { key: "pending_points", label: _t("Pending points"), format: "integer", report: "liability" },
        ].map((card) => {
            const kpi = this.state.data.kpis[card.key];
            let delta = null;
            if (kpi.previous) {
                delta = (100 * (kpi.value - kpi.previous)) / Math.abs(kpi.previous);
            }
            return {
                ...card,
                value: this.fmt(kpi.value, card.format),
                previous: this.fmt(kpi.previous, card.format),
                delta: delta === null ? "" : `${delta >= 0 ? "+" : ""}${formatFloat(delta, { digits: [16, 1] })} %`,
                up: delta !== null && delta >= 0,
            };
        });
    }

    get charts() {
        const s = this.state.data.series;
        const labels = s.months.map((m) => this.monthLabel(m));
        return [
            {
                name: "members",
                title: _t("Members and active members"),
                labels,
                format: (v) => formatInteger(v),
                report: "members",
                datasets: [
                    { label: _t("Members"), data: s.members_total },
                    { label: _t("Active members"), data: s.members_active },
                ],
            },
            {
                name: "avg_check",
                title: _t("Average check: members vs non-members"),
                labels,
                format: (v) => formatMonetary(v, { currencyId: this.currencyId }),
                report: "purchases",
                datasets: [
                    { label: _t("Members"), data: s.avg_check_member },
                    { label: _t("Non-members"), data: s.avg_check_non_member },
                ],
            },
            {
                name: "points",
                title: _t("Points issued, spent, expired; breakage"),
                type: "bar",
                labels,
                format: (v) => formatFloat(v, { digits: [16, 0] }),
                report: "points",
                datasets: [
                    { label: _t("Issued"), data: s.points_issued },
                    { label: _t("Spent"), data: s.points_spent },
                    { label: _t("Expired"), data: s.points_expired },
                    { label: _t("Breakage, %"), data: s.breakage_rate, type: "line", axis: "y1" },
                ],
            },
            {
                name: "liability",
                title: _t("Points liability at the end of the month"),
                labels,
                format: (v) => formatMonetary(v, { currencyId: this.currencyId }),
                report: "liability",
                datasets: [{ label: _t("Liability"), data: s.liability_value }],
            },
        ];
    }

    // ------------------------------------------------------------ drill-down
    async openReport(report, extra = {}, from = null, to = null) {
        const { period } = this.state.data;
        const action = await this.orm.call("loyalty.dashboard", "get_report_action", [
            report,
            from || period.from,
            to || period.to,
        ], { extra });
        await this.action.doAction(action);
    }

    openChartMonth(chart, index) {
        const month = this.state.data.series.months[index];
        const end = DateTime.fromISO(month).endOf("month").toISODate();
        return this.openReport(chart.report, {}, month, end);
    }

    openStore(store) {
        const extra = store.channel === "pos"
            ? { pos_config_id: store.pos_config_id }
            : { team_id: store.team_id };
        return this.openReport("purchases", extra);
    }

    openTier(tier) {
        return this.openReport("tiers", { tier_id: tier.tier_id });
    }
}

registry.category("actions").add("loyalty_crm.dashboard", LoyaltyDashboard);
