import { Component, onMounted, onWillUnmount, useRef, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";

/**
 * The SMS code that confirms spending points of a member found by phone.
 * Resolves with {code} to check, or {resend: true} to send a new code.
 */
export class LoyaltyCrmOtpPopup extends Component {
    static template = "loyalty_crm.OtpPopup";
    static components = { Dialog };
    static props = {
        title: String,
        phone: String,
        resendIn: Number,
        message: { type: String, optional: true },
        getPayload: Function,
        close: Function,
    };

    setup() {
        this.state = useState({ code: "", resendIn: this.props.resendIn });
        this.inputRef = useRef("input");
        onMounted(() => this.inputRef.el.focus());
        this.timer = setInterval(() => {
            if (this.state.resendIn > 0) {
                this.state.resendIn--;
            }
        }, 1000);
        onWillUnmount(() => clearInterval(this.timer));
    }
    confirm() {
        const code = this.state.code.replace(/\D/g, "");
        if (!code) {
            return;
        }
        this.props.getPayload({ code });
        this.props.close();
    }
    resend() {
        this.props.getPayload({ resend: true });
        this.props.close();
    }
    onKeydown(ev) {
        if (ev.key === "Enter") {
            ev.stopPropagation();
            this.confirm();
        }
    }
}

/**
 * Reserve points; when the server asks for the SMS code (member found by
 * phone), send it, ask the cashier for it and reserve again with it.
 * ``call(method, args)`` calls the till's RPC; resolves with the server's answer
 * (or {ok: false, cancelled: true} when the cashier gave up).
 */
export async function loyaltyCrmReserveWithCode(dialog, makeAwaitable, call, args, title) {
    let result = await call("loyalty_crm_reserve", args);
    if (result.ok || result.code !== "otp_required") {
        return result;
    }
    const partnerId = args[1];
    let otp = await call("loyalty_crm_otp_request", [partnerId]);
    if (!otp.ok) {
        return otp;
    }
    let message = "";
    for (;;) {
        const answer = await makeAwaitable(dialog, LoyaltyCrmOtpPopup, {
            title,
            phone: otp.phone,
            resendIn: otp.resend_in,
            message,
        });
        if (!answer) {
            return { ok: false, cancelled: true };
        }
        if (answer.resend) {
            const again = await call("loyalty_crm_otp_request", [partnerId]);
            if (again.ok) {
                otp = again;
                message = "";
            } else {
                message = again.message;
            }
            continue;
        }
        result = await call("loyalty_crm_reserve", [
            ...args.slice(0, 4),
            { otp_id: otp.otp_id, code: answer.code },
        ]);
        if (result.ok || !["otp_invalid"].includes(result.code)) {
            return result;
        }
        message = result.message;
    }
}
