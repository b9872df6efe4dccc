import { Component, onMounted, useRef, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";

/**
 * The short questionnaire of an enrolment at the till. Resolves with the
 * answers; the server validates them and issues the card.
 */
export class LoyaltyCrmEnrolPopup extends Component {
    static template = "loyalty_crm.EnrolPopup";
    static components = { Dialog };
    static props = {
        title: String,
        phone: { type: String, optional: true },
        channels: Array,
        sources: Array,
        genders: Array,
        getPayload: Function,
        close: Function,
    };

    setup() {
        this.state = useState({
            name: "",
            phone: this.props.phone || "",
            email: "",
            birthdate: "",
            gender: "",
            consent: false,
            channel_ids: [],
            source_id: "",
        });
        this.nameRef = useRef("name");
        onMounted(() => this.nameRef.el.focus());
    }
    toggleChannel(channelId) {
        const ids = this.state.channel_ids;
        const index = ids.indexOf(channelId);
        if (index >= 0) {
            ids.splice(index, 1);
        } else {
            ids.push(channelId);
        }
    }
    confirm() {
        if (!this.state.name.trim() || !this.state.phone.trim()) {
            return;
        }
        this.props.getPayload({
            ...this.state,
            channel_ids: [...this.state.channel_ids],
            source_id: parseInt(this.state.source_id) || false,
        });
        this.props.close();
    }
}
