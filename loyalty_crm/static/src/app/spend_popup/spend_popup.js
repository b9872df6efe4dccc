import { NumberPopup } from "@point_of_sale/app/utils/input_popups/number_popup";
import { _t } from "@web/core/l10n/translation";
import { formatPoints, wholePoints } from "@loyalty_crm/app/utils/loyalty_format";

/**
 * How many points to spend on the order. Shows the balance, the maximum for
 * this order and the value of a point, offers "spend the maximum", and
 * refuses more than the maximum before asking the server. Resolves with a
 * whole number of points (0 removes the points discount).
 *
 * Props beyond NumberPopup's: ``member`` (as the server sent it), ``maximum``
 * (points), ``formatCurrency``. Further steps (e.g. a one-time code) patch
 * ``LoyaltyCrmSpendPopup.prototype`` or run after it resolves.
 */
export class LoyaltyCrmSpendPopup extends NumberPopup {
    static template = "loyalty_crm.SpendPopup";
    static props = {
        ...NumberPopup.props,
        member: Object,
        maximum: Number,
        formatCurrency: Function,
    };
    static defaultProps = {
        ...NumberPopup.defaultProps,
        title: _t("Spend bonus points"),
    };

    get points() {
        const value = parseFloat(String(this.state.buffer || "").replace(",", "."));
        return isNaN(value) ? null : value;
    }
    get error() {
        const points = this.points;
        if (points === null) {
            return "";
        }
        if (points < 0 || points !== Math.trunc(points)) {
            return _t("Enter a whole number of points.");
        }
        if (points > this.props.maximum) {
            return _t("At most %(points)s points on this order.", {
                points: formatPoints(this.props.maximum),
            });
        }
        return "";
    }
    get discount() {
        return this.props.formatCurrency((this.points || 0) * this.props.member.point_value);
    }
    formatPoints(value) {
        return formatPoints(value);
    }
    spendMaximum() {
        this.numberBuffer.set(String(this.props.maximum));
    }
    confirm() {
        if (this.points === null || this.error) {
            return;
        }
        this.props.getPayload(wholePoints(this.points));
        this.props.close();
    }
}
