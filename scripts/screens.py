"""Screenshots of each user's main screens, taken in headless Chromium from the
demo database, and docs/screens.md that shows them.

Run by ``make screens`` (scripts/screens.sh starts Odoo on the demo database
first). Drives Chromium through the DevTools protocol with websocket-client
(already needed by Odoo's browser tours): log in over JSON-RPC, open a page,
click and type like a user (small JavaScript helpers), wait for the element
that proves the screen is ready, capture the viewport.

    python scripts/screens.py --url http://127.0.0.1:8070 --db loyalty_crm_screens \
        --out docs/screens
"""

import argparse
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

HELPERS = r"""
window.__lc = {
    find(selector, text) {
        const nodes = [...document.querySelectorAll(selector)];
        return nodes.find((n) => !text || n.textContent.includes(text)) || null;
    },
    click(selector, text) {
        const node = this.find(selector, text);
        if (!node) { return false; }
        node.scrollIntoView({ block: "center" });
        node.click();
        return true;
    },
    type(selector, value) {
        const node = this.find(selector);
        if (!node) { return false; }
        node.focus();
        const proto = node.tagName === "SELECT" ? HTMLSelectElement : HTMLInputElement;
        Object.getOwnPropertyDescriptor(proto.prototype, "value").set.call(node, value);
        node.dispatchEvent(new Event("input", { bubbles: true }));
        node.dispatchEvent(new Event("change", { bubbles: true }));
        return true;
    },
};
true;
"""


class Browser:
    """One headless Chromium, one page, driven over the DevTools protocol."""

    def __init__(self, chromium, width, height):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="lc-screens-")
        self.proc = subprocess.Popen(  # noqa: S603 (our own arguments)
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--no-default-browser-check",
                "--lang=ru-RU",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        page = None
        for _attempt in range(100):
            try:
                with urllib.request.urlopen(  # noqa: S310 (local DevTools endpoint)
                    f"http://127.0.0.1:{self.port}/json/list", timeout=2
                ) as answer:
                    pages = [t for t in json.load(answer) if t["type"] == "page"]
                if pages:
                    page = pages[0]
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if not page:
            raise RuntimeError("Chromium did not start")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.seq = 0
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.resize(width, height)

    def send(self, method, **params):
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.seq:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def resize(self, width, height):
        self.width, self.height = width, height
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def js(self, expression):
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", expression))
        return result.get("result", {}).get("value")

    def cookie(self, url, name, value):
        self.send("Network.setCookie", url=url, name=name, value=value)

    def goto(self, url):
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", 60)

    def wait(self, condition, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.js(f"!!({condition})"):
                    return
            except RuntimeError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"waited {timeout}s for {condition}")

    def wait_for(self, selector, text=None, timeout=30):
        self.ensure_helpers()
        self.wait(
            f"window.__lc.find({json.dumps(selector)}, {json.dumps(text)})", timeout
        )

    def ensure_helpers(self):
        if not self.js("!!window.__lc"):
            self.js(HELPERS)

    def click(self, selector, text=None, timeout=30):
        self.wait_for(selector, text, timeout)
        self.js(f"window.__lc.click({json.dumps(selector)}, {json.dumps(text)})")

    def type(self, selector, value, timeout=30):
        self.wait_for(selector, None, timeout)
        self.js(f"window.__lc.type({json.dumps(selector)}, {json.dumps(value)})")

    def settle(self, seconds=1.0):
        """Let animations, fonts and charts finish."""
        time.sleep(seconds)

    def capture(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rpc(url, route, params, session_id=None):
    request = urllib.request.Request(  # noqa: S310 (the local Odoo of the script)
        url + route,
        data=json.dumps(
            {"jsonrpc": "2.0", "method": "call", "params": params}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    if session_id:
        request.add_header("Cookie", f"session_id={session_id}")
    with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
        body = json.load(answer)
        cookies = answer.headers.get_all("Set-Cookie") or []
    if body.get("error"):
        raise RuntimeError(f"{route}: {body['error'].get('data', {}).get('message')}")
    session = next(
        (
            c.split(";")[0].split("=", 1)[1]
            for c in cookies
            if c.startswith("session_id=")
        ),
        session_id,
    )
    return body.get("result"), session


def login(browser, url, db, user, password):
    _result, session = rpc(
        url,
        "/web/session/authenticate",
        {"db": db, "login": user, "password": password},
    )
    browser.goto(url + "/web/login")
    browser.cookie(url, "session_id", session)
    return session


def call(url, session, model, method, args, kwargs=None):
    result, _session = rpc(
        url,
        "/web/dataset/call_kw",
        {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        session,
    )
    return result


# ---------------------------------------------------------------- the screens
SCREENS = []


def screen(user, title, description):
    def register(function):
        SCREENS.append((function.__name__, user, title, description, function))
        return function

    return register


def ref(url, session, xmlid):
    module, name = xmlid.split(".")
    rows = call(
        url,
        session,
        "ir.model.data",
        "search_read",
        [[("module", "=", module), ("name", "=", name)]],
        {"fields": ["res_id"], "limit": 1},
    )
    return rows[0]["res_id"] if rows else None


def _scan_olgas_card(b, ctx):
    """Ольга's card, scanned at the till (found by phone, spending would ask for
    the SMS code)."""
    olga = ref(ctx.url, ctx.admin, "loyalty_crm.demo_member_olga")
    card = call(
        ctx.url,
        ctx.admin,
        "res.partner",
        "read",
        [[olga], ["loyalty_card_code"]],
    )[0]["loyalty_card_code"]
    b.click(".o_lc_member_button")
    b.type(".modal .o_lc_member_term", card)
    b.click(".modal .o_lc_member_find")
    b.wait_for(".o_lc_member_panel .o_lc_member_name")


def open_till(b, ctx):
    """The first store's till, a register open, a member found and a dress."""
    config = call(
        ctx.url,
        ctx.admin,
        "pos.config",
        "search_read",
        [[]],
        {"fields": ["id"], "limit": 1},
    )[0]["id"]
    b.goto(f"{ctx.url}/pos/ui?config_id={config}")
    # a closed register: "Open Register" (a screen, then the opening dialog)
    deadline = time.time() + 180
    calm = 0
    while calm < 3:  # the product screen, and no opening dialog for a while
        if time.time() > deadline:
            raise TimeoutError("the till did not open")
        b.ensure_helpers()
        clicked = b.js(
            "window.__lc.click('.modal:has(.opening-cash-section) .btn-primary') || "
            "window.__lc.click('.modal:has(.modal-title) .modal-footer .btn-primary', "
            "'Открыть кассу') || window.__lc.click('.open-register-btn')"
        )
        ready = b.js("!!document.querySelector('.product-screen .o_lc_member_button')")
        calm = calm + 1 if ready and not clicked else 0
        time.sleep(1.5)
    _scan_olgas_card(b, ctx)
    b.click("article.product, .product-list .product", "Платье")
    b.wait_for(".orderline", "Платье")
    b.settle()


@screen(
    "Cashier",
    "The till with a member (1440×900)",
    "The member has their own block in "
    "the order summary: tier, available, pending and soon expiring points in whole "
    "numbers, and *Spend*. *Bonus card* (in the same place) finds or enrols a "
    "member.",
)
def till_1440(b, ctx):
    b.resize(1440, 900)
    open_till(b, ctx)


@screen(
    "Cashier",
    "Spending points",
    "The maximum for this order, the value of a point and "
    "*Spend the maximum*; more than the maximum is refused before asking the server.",
)
def till_spend(b, ctx):
    b.click(".o_lc_spend_button")
    b.wait_for(".modal .o_lc_spend_maximum")
    b.settle(0.5)


@screen(
    "Cashier",
    "The receipt",
    "One loyalty block: card, points spent and earned, when "
    "the pending points can be spent, the new balance.",
)
def till_receipt(b, ctx):
    if b.js("!!document.querySelector('.modal .o_lc_spend_max:not([disabled])')"):
        b.click(".modal .o_lc_spend_max")
        b.click(".modal .o_lc_spend_confirm:not([disabled])")
        b.wait_for(".orderline", "Оплата баллами")
    else:  # nothing to spend (a database already used): pay in full
        b.click(".modal .modal-footer button", "Отмен")
    b.click(".product-screen .pay-order-button")
    b.wait_for(".payment-screen .paymentmethods .button.paymentmethod")
    b.settle(0.5)
    b.click(".payment-screen .paymentmethods .button.paymentmethod")
    b.wait_for(".payment-screen .paymentline")
    b.click(".payment-screen button.validation-button.next")
    b.wait_for(".pos-receipt .o_lc_receipt", timeout=60)
    b.settle()


@screen(
    "Cashier",
    "The till at 1024×768",
    "A small till: the bonus program stays out of the control buttons, which "
    "keep Odoo's own layout.",
)
def till_1024(b, ctx):
    b.resize(1024, 768)
    b.click(".receipt-screen .button.next.highlight[name='done']")
    b.wait_for(".product-screen .o_lc_member_button")
    _scan_olgas_card(b, ctx)
    b.click("article.product, .product-list .product", "Джинсы")
    b.wait_for(".orderline", "Джинсы")
    b.settle()


@screen(
    "Cashier",
    "Not found: enrol",
    "A phone nobody has: the till offers to enrol the "
    "customer, the phone already typed.",
)
def till_not_found(b, ctx):
    b.resize(1440, 900)
    b.click(".o_lc_member_button")
    b.type(".modal .o_lc_member_term", "+7 916 000-00-99")
    b.click(".modal .o_lc_member_find")
    b.wait_for(".modal .modal-footer button", "Зарегистр")
    b.settle(0.5)


@screen(
    "Cashier",
    "Enrolling at the till",
    "The short questionnaire, the phone already typed; its words are the "
    "program's, Odoo's own terms included (*Эл. почта*, *Отменить*).",
)
def till_enrol(b, ctx):
    b.click(".modal .modal-footer .btn-primary", "Зарегистрировать")
    b.wait_for(".modal .o_lc_enrol_form label", "Эл. почта")
    b.wait_for(".modal .o_lc_enrol_gender option", "Женский")
    b.settle(0.5)


@screen("Salesperson", "Members", "Look a member up by card or phone.")
def members(b, ctx):
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.res_partner_action_member")
    b.wait_for(".o_list_view .o_data_row")
    b.settle()


@screen(
    "Salesperson",
    "A member",
    "Card, state, tier, points, pending and expiring points at "
    "the top of the contact; the questionnaire in the first tab.",
)
def member_form(b, ctx):
    anna = ref(ctx.url, ctx.admin, "loyalty_crm.demo_member_anna")
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.res_partner_action_member/{anna}")
    b.wait_for(".o_form_view .o_lc_member_block")
    b.settle()


@screen(
    "Loyalty manager",
    "Adjusting a balance",
    "A signed change and a reason; the balance "
    "after the change is shown before confirming. Nothing is prefilled.",
)
def adjust(b, ctx):
    b.click(".o_lc_member_block button[name=action_loyalty_adjust]")
    b.type(".modal .o_field_widget[name=change] input", "+200")
    b.type(".modal .o_field_widget[name=reason] input", "Покупка до выдачи карты")
    b.wait_for(".modal .o_field_widget[name=new_points]")
    b.settle()


@screen(
    "Salesperson",
    "The member card",
    "The card of the bonus program: state, balance, history; replace, block and print.",
)
def card_form(b, ctx):
    anna = ref(ctx.url, ctx.admin, "loyalty_crm.demo_member_anna")
    card = call(
        ctx.url, ctx.admin, "res.partner", "read", [[anna], ["loyalty_card_id"]]
    )[0]["loyalty_card_id"][0]
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.loyalty_card_action_member/{card}")
    b.wait_for(".o_form_view .o_field_widget[name=code]")
    b.settle()


@screen(
    "Marketer",
    "A segment",
    "The member count follows the conditions while they are edited, before saving.",
)
def segment(b, ctx):
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.loyalty_segment_action/new")
    b.type(".o_field_widget[name=name] input", "Женщины")
    b.type(".o_field_widget[name=gender] select", '"female"')
    b.wait_for(".o_stat_value")
    b.settle(1.5)


@screen(
    "Marketer",
    "Launching a campaign",
    "Before anything is sent: whom it will reach, "
    "why not the others, and a confirmation.",
)
def launch(b, ctx):
    campaign = ref(ctx.url, ctx.admin, "loyalty_crm.demo_campaign_winback")
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.loyalty_campaign_action/{campaign}")
    b.click(".o_form_view button[name=action_launch_confirm]")
    b.wait_for(".modal .o_lc_launch_estimate")
    b.settle()


@screen(
    "Marketer",
    "Campaign results",
    "Conversion of the members who received the message "
    "against the control group, revenue and delivery.",
)
def campaign_results(b, ctx):
    campaign = ref(ctx.url, ctx.admin, "loyalty_crm.demo_campaign_spring")
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.loyalty_campaign_action/{campaign}")
    b.wait_for(".o_form_view .o_lc_campaign_compare")
    b.js(
        "document.querySelector('.o_form_view .o_notebook')"
        ".scrollIntoView({block: 'start'})"
    )
    b.settle()


@screen(
    "Owner",
    "The KPI dashboard",
    "Members, average check of members and non-members, "
    "frequency, redemption, liability, payback.",
)
def dashboard(b, ctx):
    b.goto(f"{ctx.url}/odoo/action-loyalty_crm.loyalty_dashboard_client_action")
    b.wait_for(".o_loyalty_dashboard .o_loyalty_chart canvas", timeout=60)
    b.settle(3)


@screen(
    "Customer",
    "My bonuses (portal)",
    "Card with barcode, whole points, tier, history, "
    "questionnaire and consent: in Russian, one balance.",
)
def portal(b, ctx):
    login(b, ctx.url, ctx.db, "anna", "anna")
    b.goto(f"{ctx.url}/my/loyalty")
    b.wait_for(".o_loyalty_crm_portal .o_loyalty_available")
    b.settle()


def write_markdown(out, done, failed, md_path):
    lines = [
        "# What each user sees",
        "",
        "Screenshots of the demo database (`make run`'s data: a Russian clothing "
        "retailer), taken in headless Chromium by `scripts/screens.py`. Regenerate "
        "them with `make screens` (a fresh demo database, then the browser); do not "
        "edit them by hand.",
        "",
    ]
    current_user = None
    rel = os.path.relpath(out, md_path.parent)
    for name, user, title, description in done:
        if user != current_user:
            lines += [f"## {user}", ""]
            current_user = user
        lines += [
            f"### {title}",
            "",
            description,
            "",
            f"![{title}]({rel}/{name}.png)",
            "",
        ]
    if failed:
        lines += ["## Not captured", ""]
        lines += [f"- {title}: {error}" for title, error in failed]
        lines.append("")
    md_path.write_text("\n".join(lines), encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8070")
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", default="docs/screens")
    parser.add_argument("--markdown", default="docs/screens.md")
    parser.add_argument(
        "--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument("--only", help="comma-separated screen names")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    class Context:
        url = args.url.rstrip("/")
        db = args.db

    ctx = Context()
    browser = Browser(args.chromium, 1440, 900)
    done, failed = [], []
    try:
        ctx.admin = login(browser, ctx.url, ctx.db, "admin", "admin")
        wanted = set(args.only.split(",")) if args.only else None
        for name, user, title, description, function in SCREENS:
            if wanted and name not in wanted:
                continue
            try:
                function(browser, ctx)
                browser.capture(out / f"{name}.png")
                done.append((name, user, title, description))
                print(f"  {name}.png  {user}: {title}")
            except Exception as error:  # noqa: BLE001 (report and go on)
                failed.append((title, f"{type(error).__name__}: {error}"))
                with contextlib.suppress(Exception):
                    browser.capture(Path(tempfile.gettempdir()) / f"screens-{name}.png")
                print(f"  FAILED {name}: {error}", file=sys.stderr)
    finally:
        browser.close()
    write_markdown(out, done, failed, Path(args.markdown))
    print(f"{len(done)} screenshots in {out}, {len(failed)} failed: {args.markdown}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
