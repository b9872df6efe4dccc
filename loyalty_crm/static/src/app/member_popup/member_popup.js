import { Component, onMounted, useRef, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";

/**
 * Find a member of the bonus program: scan the card or type a phone.
 * Resolves with {term} to look up, or {enrol: true} to enrol a new member.
 */
export class LoyaltyCrmMemberPopup extends Component {
    static template = "loyalty_crm.MemberPopup";
    static components = { Dialog };
    static props = {
        title: String,
        getPayload: Function,
        close: Function,
    };

    setup() {
        this.state = useState({ term: "" });
        this.inputRef = useRef("input");
        onMounted(() => this.inputRef.el.focus());
    }
    find() {
        if (!this.state.term.trim()) {
            return;
        }
        this.props.getPayload({ term: this.state.term.trim() });
        this.props.close();
    }
    enrol() {
        this.props.getPayload({ enrol: true, term: this.state.term.trim() });
        this.props.close();
    }
    onKeydown(ev) {
        if (ev.key === "Enter") {
            ev.stopPropagation();
            this.find();
        }
    }
}
