"""Generated bad requests: never a 5xx, never a write (hypothesis, reproducible)."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.tests import new_test_user, tagged

from .api_common import ApiCase

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
# a value of the wrong type for each kind of field
WRONG_FOR_NUMBER = st.one_of(
    st.booleans(),
    st.text(max_size=20),
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2),
)
BAD_NUMBERS = st.one_of(
    st.integers(max_value=0),
    st.floats(max_value=0, allow_nan=False, allow_infinity=False),
    st.integers(min_value=10**11),
    st.floats(min_value=1e11, allow_nan=False, allow_infinity=False),
    st.decimals(
        min_value=0, max_value=10**6, places=5, allow_nan=False, allow_infinity=False
    )
    .filter(lambda d: d != d.quantize(1) and d * 100 != (d * 100).quantize(1))
    .map(float),
)
WRONG_FOR_STRING = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
STRING_FIELDS = {
    "card",
    "phone",
    "idempotency_key",
    "reference",
    "reason",
    "name",
    "new_code",
}
NUMBER_FIELDS = {"amount", "points", "order_amount"}


def _valid_bodies(code):
    return {
        "/accruals": {"card": code, "amount": 100, "idempotency_key": "fz"},
        "/redemptions": {
            "card": code,
            "points": 1,
            "order_amount": 100,
            "idempotency_key": "fz",
        },
        "/adjustments": {
            "card": code,
            "points": 1,
            "reason": "fuzz",
            "idempotency_key": "fz",
        },
        "/members": {"name": "Fuzz", "phone": "+79990001122"},
    }


@st.composite
def bad_requests(draw):
    """``(path, raw body, content type, auth)`` of a request that must be refused."""
    path = draw(
        st.sampled_from(
            ["/accruals", "/redemptions", "/adjustments", "/members", "/reversal"]
        )
    )
    kind = draw(
        st.sampled_from(
            [
                "wrong_type",
                "bad_number",
                "missing",
                "unknown_card",
                "garbage",
                "not_object",
                "content_type",
                "auth",
                "too_long",
            ]
        )
    )
    base = _valid_bodies("__CARD__").get(path, {"idempotency_key": "fz"})
    body = dict(base)
    content_type = "application/json"
    auth = "good"
    raw = None
    if path == "/reversal" and kind in ("bad_number", "missing", "unknown_card"):
        kind = "wrong_type"
    if kind == "wrong_type":
        field = draw(st.sampled_from(sorted(base)))
        strategy = WRONG_FOR_NUMBER if field in NUMBER_FIELDS else WRONG_FOR_STRING
        body[field] = draw(strategy)
    elif kind == "bad_number":
        numbers = sorted(NUMBER_FIELDS & set(base)) or ["amount"]
        field = draw(st.sampled_from(numbers))
        if path == "/members":
            kind = "missing"
        else:
            value = draw(BAD_NUMBERS)
            if field == "points" and path == "/adjustments" and value != 0:
                value = draw(st.sampled_from([0, 1.001, 10**12, -(10**12)]))
            body[field] = value
    if kind == "missing":
        required = [f for f in base if f not in ("card",)] or ["idempotency_key"]
        body.pop(draw(st.sampled_from(required)), None)
        if path in ("/accruals", "/redemptions", "/adjustments") and draw(
            st.booleans()
        ):
            body.pop("card", None)
    elif kind == "unknown_card":
        body["card"] = draw(st.text(min_size=1, max_size=30))
        if path == "/members":
            body = {"name": "Fuzz", "phone": draw(st.text(max_size=5))}
    elif kind == "garbage":
        raw = draw(st.binary(max_size=60)).replace(b"{", b"").replace(b"}", b"")
    elif kind == "not_object":
        raw = json.dumps(
            draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        ).encode()
    elif kind == "content_type":
        content_type = draw(
            st.sampled_from(
                ["text/plain", "application/x-www-form-urlencoded", "", "json"]
            )
        )
    elif kind == "auth":
        auth = draw(st.sampled_from(["none", "wrong", "not_api", "garbage"]))
    elif kind == "too_long":
        field = draw(st.sampled_from(sorted(STRING_FIELDS & set(base)) or ["card"]))
        body[field] = "x" * draw(st.integers(min_value=300, max_value=70000))
    extra = draw(st.dictionaries(st.sampled_from(["zz", "extra", "_x"]), JSON_VALUES))
    if raw is None:
        body.update(extra)
    return path, body, raw, content_type, auth


@tagged("post_install", "-at_install")
class TestApiFuzz(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accrual = cls.Ledger._accrue_purchase(cls.card, 1000, "fuzz-seed")
        cls.Ledger._redeem(cls.card, 1, 100, "fuzz-seed-2")
        cls.outcomes = []
        # the least trusted keys: a user with the API group only, and a
        # coalition partner's
        cls.plain_key = cls._key(
            new_test_user(
                cls.env, "lc_api_only", groups="loyalty_crm.group_loyalty_api"
            )
        )
        partner_user = new_test_user(
            cls.env, "lc_api_fuzz_cp", groups="loyalty_crm.group_loyalty_api"
        )
        today = fields.Date.today()
        cls.env["loyalty.coalition.partner"].create(
            {
                "name": "Фаззер",
                "partner_id": cls.env["res.partner"]
                .create({"name": "ООО Фаззер", "is_company": True})
                .id,
                "user_id": partner_user.id,
                "program_id": cls.program.id,
                "date_start": fields.Date.add(today, days=-1),
                "date_end": fields.Date.add(today, days=30),
            }
        )
        cls.partner_key = cls._key(partner_user)

    @settings(
        max_examples=600,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bad_requests())
    def _check(self, request):
        self._send(request, self.manager_key)

    @settings(
        max_examples=300,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bad_requests(), st.sampled_from(["plain", "partner"]))
    def _check_least_trusted(self, request, good):
        self._send(
            request, {"plain": self.plain_key, "partner": self.partner_key}[good]
        )

    def _send(self, request, good_key):
        path, body, raw, content_type, auth = request
        if raw is None:
            raw = json.dumps(body).replace('"__CARD__"', json.dumps(self.card.code))
            if (
                path == "/members"
                and "phone" in body
                and body["phone"] == "+79990001122"
            ):
                # a valid enrolment would succeed: take the phone of a member
                raw = raw.replace("+79990001122", self.member.loyalty_phone)
        if path == "/reversal":
            path = f"/transactions/{self.accrual.id}/reversal"
        key = {
            "good": good_key,
            "none": False,
            "wrong": "0" * 40,
            "not_api": self.not_api_key,
            "garbage": "\u00e9\u00e9 x",
        }[auth]
        headers = {}
        if auth == "garbage":
            key = False
            headers["Authorization"] = "Basic Zm9vOmJhcg=="
        status, payload = self.api(
            "POST", path, raw=raw, content_type=content_type, key=key, headers=headers
        )
        self.outcomes.append(status)
        self.assertIn(status, (400, 401, 403, 404, 409, 422), (request, payload))
        self.assertEqual(set(payload), {"error"}, payload)
        self.assertEqual(set(payload["error"]), {"code", "message"})

    def test_bad_requests_never_5xx_never_write(self):
        before = self.counts()
        balance = self.card.points
        self._check()
        self.assertGreaterEqual(len(self.outcomes), 500)
        self.assertEqual(self.counts(), before)
        self.card.invalidate_recordset()
        self.assertEqual(self.card.points, balance)
        # every family of refusal was exercised
        self.assertTrue({400, 401, 403, 404, 422} <= set(self.outcomes))

    def test_bad_requests_of_the_least_trusted_keys(self):
        """The same, with the key of a user who has only the API group and a
        coalition partner's key (the keys a website or a partner holds)."""
        before = self.counts()
        balance = self.card.points
        self._check_least_trusted()
        self.assertGreaterEqual(len(self.outcomes), 250)
        self.assertEqual(self.counts(), before)
        self.card.invalidate_recordset()
        self.assertEqual(self.card.points, balance)
        self.assertTrue({400, 401, 403, 404, 422} <= set(self.outcomes))
