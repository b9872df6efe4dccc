import { deserializeDate, formatDate } from "@web/core/l10n/dates";
import { formatFloat } from "@web/core/utils/numbers";

/**
 * Points are shown as whole numbers: the ledger keeps hundredths (5 % of
 * 449 ₽ earns 22.45 points) but a member, a cashier and a receipt see 22.
 * The fraction is cut, never rounded up, so the till never shows a point
 * that cannot be spent; it stays on the card and completes the next point.
 */
export function wholePoints(value) {
    const number = Number(value) || 0;
    // 0.999999 from float arithmetic is still a whole point
    return Math.trunc(number + (number >= 0 ? 1e-6 : -1e-6));
}

/** "4 372" in the user's language (thousands separator, no decimals). */
export function formatPoints(value) {
    return formatFloat(wholePoints(value), { digits: [16, 0] });
}

/** "13.12.2026" from the server's "2026-12-13" (empty when none). */
export function formatPointsDate(value) {
    return value ? formatDate(deserializeDate(value)) : "";
}

/**
 * The most points the member may spend on an order of ``orderAmount``
 * (tax included), by the program's rules the server sent with the member:
 * the balance, the minimum balance to spend from, and the share of the order
 * points may pay. Only shown to the cashier: the server checks every
 * reservation again against the same rules.
 */
export function maxSpendablePoints(member, orderAmount) {
    const balance = wholePoints(member.points);
    if (!balance || balance < (member.min_balance_to_spend || 0)) {
        return 0;
    }
    const pointValue = member.point_value || 0;
    if (pointValue <= 0 || !(orderAmount > 0)) {
        return 0;
    }
    const cap = (orderAmount * (member.max_redeem_share || 0)) / 100;
    return Math.max(0, Math.min(balance, Math.floor(cap / pointValue + 1e-6)));
}
