import { registry } from "@web/core/registry";
import { FloatField, floatField } from "@web/views/fields/float/float_field";
import { formatFloat } from "@web/core/utils/numbers";

/**
 * Bonus points as the member and the till see them: whole points, the
 * fraction cut (never rounded up), thousands grouped ("4 372").
 */
export class LoyaltyPointsField extends FloatField {
    get formattedValue() {
        if (!this.props.readonly) {
            return super.formattedValue;
        }
        const value = Number(this.value) || 0;
        const whole = Math.trunc(value + (value >= 0 ? 1e-6 : -1e-6));
        return formatFloat(whole, { digits: [16, 0] });
    }
}

registry.category("fields").add("loyalty_points", {
    ...floatField,
    component: LoyaltyPointsField,
});
