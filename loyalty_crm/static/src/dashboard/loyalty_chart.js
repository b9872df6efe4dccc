import { Component, onWillStart, useEffect, useRef } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { cookie } from "@web/core/browser/cookie";
import { getColor, hexToRGBA } from "@web/core/colors/colors";

/**
 * One trend chart of the dashboard, drawn with the Chart.js bundle Odoo ships
 * (loaded as the graph view loads it). ``datasets``: [{label, data, type?}];
 * ``format``: formats a value for the axis and the tooltips.
 */
export class LoyaltyChart extends Component {
    static template = "loyalty_crm.LoyaltyChart";
    static props = {
        title: String,
        type: { type: String, optional: true },
        labels: Array,
        datasets: Array,
        format: Function,
        onClick: { type: Function, optional: true },
        name: String,
    };
    static defaultProps = { type: "line" };

    setup() {
        this.canvasRef = useRef("canvas");
        this.chart = null;
        onWillStart(() => loadBundle("web.chartjs_lib"));
        useEffect(
            () => {
                this.renderChart();
                return () => this.chart?.destroy();
            },
            () => [this.props.labels, this.props.datasets]
        );
    }

    renderChart() {
        this.chart?.destroy();
        const scheme = cookie.get("color_scheme");
        const format = this.props.format;
        const datasets = this.props.datasets.map((dataset, index) => {
            const color = getColor(index, scheme, "odoo");
            const type = dataset.type || this.props.type;
            return {
                label: dataset.label,
                data: dataset.data,
                type,
                borderColor: color,
                backgroundColor: type === "bar" ? hexToRGBA(color, 0.6) : hexToRGBA(color, 0.1),
                fill: false,
                tension: 0.2,
                yAxisID: dataset.axis || "y",
            };
        });
        const scales = {
            y: { beginAtZero: true, ticks: { callback: (value) => format(value) } },
        };
        if (this.props.datasets.some((d) => d.axis === "y1")) {
            scales.y1 = {
                beginAtZero: true,
                position: "right",
                grid: { drawOnChartArea: false },
                ticks: { callback: (value) => `${value} %` },
            };
        }
        this.chart = new Chart(this.canvasRef.el, {
            type: this.props.type,
            data: { labels: this.props.labels, datasets },
            options: {
                maintainAspectRatio: false,
                animation: false,
                interaction: { mode: "index", intersect: false },
                scales,
                plugins: {
                    legend: { position: "bottom" },
                    tooltip: {
                        callbacks: {
                            label: (item) =>
                                item.dataset.yAxisID === "y1"
                                    ? `${item.dataset.label}: ${item.raw} %`
                                    : `${item.dataset.label}: ${format(item.raw)}`,
                        },
                    },
                },
                onClick: (event, elements) => {
                    if (this.props.onClick && elements.length) {
                        this.props.onClick(elements[0].index);
                    }
                },
            },
        });
    }
}
