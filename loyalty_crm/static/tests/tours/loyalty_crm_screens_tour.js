import { registry } from "@web/core/registry";

/**
 * A Loyalty Manager corrects a balance from the member's form: the member
 * block at the top of the form, "Adjust balance" asks a signed change (empty,
 * never a prefilled new balance) and a reason, shows the balance after it.
 */
registry.category("web_tour.tours").add("loyalty_crm_adjust_tour", {
    steps: () => [
        {
            content: "the member block is at the top of the form, above the tabs",
            trigger: ".o_form_sheet .o_lc_member_block .o_lc_member_block_points:contains(1,000)",
            run() {
                const block = document.querySelector(".o_form_sheet .o_lc_member_block");
                const notebook = document.querySelector(".o_form_sheet .o_notebook");
                if (
                    notebook &&
                    block.getBoundingClientRect().top > notebook.getBoundingClientRect().top
                ) {
                    throw new Error("the member block is below the notebook");
                }
            },
        },
        {
            content: "the Loyalty tab is open first",
            trigger: ".o_notebook .nav-link.active:contains(Loyalty)",
        },
        {
            trigger: ".o_lc_member_block button[name=action_loyalty_adjust]",
            run: "click",
        },
        {
            content: "nothing is prefilled: no new balance, no change",
            trigger: ".modal .o_field_widget[name=change] input",
            run() {
                if (this.anchor.value !== "") {
                    throw new Error(`the change is prefilled with "${this.anchor.value}"`);
                }
                if (document.querySelector(".modal .o_field_widget[name=new_balance]")) {
                    throw new Error("Odoo's new balance field is shown");
                }
            },
        },
        {
            trigger: ".modal .o_field_widget[name=current_points]:contains(1,000)",
        },
        {
            trigger: ".modal .o_field_widget[name=reason] input",
            run: "edit Ошибка кассира",
        },
        {
            trigger: ".modal .o_field_widget[name=change] input",
            run: "edit -250",
        },
        {
            content: "leave the field: the change is committed",
            trigger: ".modal .o_field_widget[name=reason] input:value(Ошибка кассира)",
            run: "click",
        },
        {
            content: "the balance after the change is shown before confirming",
            trigger: ".modal .o_field_widget[name=new_points]:contains(750)",
        },
        {
            trigger: ".modal .modal-footer button[name=action_confirm]",
            run: "click",
        },
        {
            trigger: ".o_notification:contains(-250)",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});

/**
 * A Russian member's portal: Russian, one balance (ours), whole points.
 */
registry.category("web_tour.tours").add("loyalty_crm_portal_ru_tour", {
    url: "/my/home",
    steps: () => [
        {
            content: "the portal home is in Russian and lists My loyalty",
            trigger: "a[href='/my/loyalty']:contains(Мои бонусы)",
        },
        {
            content: "Odoo's own loyalty block does not show the bonus program again",
            trigger: "body",
            run() {
                const text = document.body.innerText;
                if (/Бонусная программа «Тест»/.test(text)) {
                    throw new Error("the bonus program is shown by Odoo's loyalty block");
                }
            },
        },
        {
            trigger: "a[href='/my/loyalty']",
            run: "click",
        },
        {
            content: "one balance, whole points, Russian words",
            trigger: ".o_loyalty_crm_portal .o_loyalty_available:contains(1 234)",
            run() {
                const page = document.querySelector(".o_loyalty_crm_portal");
                const balances = page.querySelectorAll(".o_loyalty_available").length;
                if (balances !== 1) {
                    throw new Error(`${balances} balances on the page`);
                }
                if (/1234[.,]5/.test(page.innerText)) {
                    throw new Error("kopecks of points are shown");
                }
                if (!/Доступно/.test(page.innerText)) {
                    throw new Error("the page is not in Russian");
                }
            },
        },
    ],
});
