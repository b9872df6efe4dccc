"""The HTTP API's operations: validation, idempotency and the operations.

``loyalty.api`` is an AbstractModel: another addon extends an operation with
``_inherit = "loyalty.api"`` and ``super()``, or adds one (a ``_validate_<name>``
and a ``<name>`` method, a row in :data:`OPERATIONS` and its route, which the
controller builds from that row). The controllers (``controllers/api.py``) only
turn an HTTP request into a call of :meth:`LoyaltyApi.handle` and its result (or
:class:`ApiError`) into a JSON response; everything else lives here, so that the
same code can be driven from threads with their own cursors (concurrency tests,
benchmarks).

The contract is ``API.md`` (v1); :data:`OPERATIONS` is the one route table: the
controller declares its routes from it and :func:`openapi_document` describes
them.
"""

import datetime
import hashlib
import hmac
import json
import math
import random
import re
import threading
import time
from collections import OrderedDict
from decimal import Decimal, InvalidOperation

import psycopg2
from psycopg2.extensions import (
    ISOLATION_LEVEL_READ_COMMITTED,
    TRANSACTION_STATUS_IDLE,
)

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.sql_db import TestCursor
from odoo.tools import SQL

from odoo.addons.base.models.res_users import INDEX_SIZE as API_KEY_INDEX_SIZE
from odoo.addons.base.models.res_users import KEY_CRYPT_CONTEXT as API_KEY_CRYPT_CONTEXT

from ..models.loyalty_card import USABLE_STATES
from ..tools import LoyaltyError, LoyaltyKeyTaken, normalize_phone

BASE_PATH = "/api/loyalty/v1"
MAX_BODY_BYTES = 64 * 1024
MAX_KEY_LENGTH = 128
MAX_NUMBER = 1e10  # amounts and points above this are refused (422)
MAX_LINES = 500
MAX_ID = 2**31 - 1
MAX_CONCURRENCY_RETRIES = 50
API_GROUP = "loyalty_crm.group_loyalty_api"
# API keys whose hash check passed in this process: {(key id, stored hash):
# SHA-256 of the key}, least recently used first (see LoyaltyApi._check_api_key)
_VERIFIED_KEYS = OrderedDict()
_VERIFIED_KEYS_LOCK = threading.Lock()
MAX_VERIFIED_KEYS = 1024
MANAGER_GROUP = "loyalty_crm.group_loyalty_manager"

STATUS_BY_CODE = {
    "bad_request": 400,
    "malformed_json": 400,
    "unsupported_media_type": 400,
    "body_too_large": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "duplicate_member": 409,
    "already_reversed": 409,
    "card_not_active": 409,
    "idempotency_conflict": 409,
    "conflict": 409,
    "validation_error": 422,
    "invalid_phone": 422,
    "card_blocked": 422,
    "insufficient_points": 422,
    "redemption_cap_exceeded": 422,
    # redemptions by phone confirmed by an SMS code (extension v1.2)
    "otp_required": 422,
    "otp_invalid": 422,
    "otp_expired": 422,
    "otp_blocked": 422,
    "otp_used": 422,
    "otp_rate_limited": 429,
}

GENDERS = ("male", "female", "other")
MARITAL_STATUSES = ("single", "married", "divorced", "widowed")
EMPLOYMENTS = ("employed", "self_employed", "student", "retired", "unemployed")
CHANNELS = ("sms", "email", "call")


class _NoApiKey(Exception):
    """No key has this index (not kept in cache)."""


class ApiError(Exception):
    """A refusal: HTTP ``status``, a snake_case ``code`` and a human message."""

    def __init__(self, code, message, status=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE[code]

    def payload(self):
        return {"error": {"code": self.code, "message": self.message}}


# ---------------------------------------------------------------- parsing
def _reject_constant(name):
    raise ValueError(f"{name} is not a number")


def parse_json_body(content_type, data):
    """The request body as a dict, or :class:`ApiError` (400)."""
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype != "application/json":
        raise ApiError(
            "unsupported_media_type",
            _("The request body must be JSON (Content-Type: application/json)."),
        )
    if len(data) > MAX_BODY_BYTES:
        raise ApiError(
            "body_too_large",
            _("The request body is larger than %(size)s bytes.", size=MAX_BODY_BYTES),
        )
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(
            "malformed_json", _("The request body is not valid JSON.")
        ) from None
    if not isinstance(body, dict):
        raise ApiError("bad_request", _("The request body must be a JSON object."))
    return body


def _bad(message):
    return ApiError("bad_request", message)


def _invalid(message):
    return ApiError("validation_error", message)


def get_string(body, name, required=False, max_length=256):
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(_("%(field)s is required.", field=name))
        return None
    if not isinstance(value, str):
        raise _bad(_("%(field)s must be a string.", field=name))
    value = value.strip()
    if len(value) > max_length:
        raise _bad(
            _(
                "%(field)s is longer than %(max)s characters.",
                field=name,
                max=max_length,
            )
        )
    if "\x00" in value:
        raise _bad(_("%(field)s contains a NUL character.", field=name))
    if required and not value:
        raise _bad(_("%(field)s is required.", field=name))
    return value or None


def get_number(body, name, required=False, sign=1, decimals=2):
    """A JSON number: ``sign`` 1 (> 0), 0 (non-zero, any sign) or None (>= 0)."""
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(_("%(field)s is required.", field=name))
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(_("%(field)s must be a number.", field=name))
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise _invalid(_("%(field)s is out of range.", field=name))
    try:
        exponent = Decimal(str(value)).normalize().as_tuple().exponent
    except InvalidOperation:
        raise _invalid(_("%(field)s is not a valid number.", field=name)) from None
    if isinstance(exponent, int) and exponent < -decimals:
        raise _invalid(
            _(
                "%(field)s has more than %(decimals)s decimals.",
                field=name,
                decimals=decimals,
            )
        )
    if sign == 1 and value <= 0:
        raise _invalid(_("%(field)s must be positive.", field=name))
    if sign == 0 and value == 0:
        raise _invalid(_("%(field)s must not be zero.", field=name))
    if sign is None and value < 0:
        raise _invalid(_("%(field)s must not be negative.", field=name))
    return float(value)


def get_bool(body, name):
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _bad(_("%(field)s must be true or false.", field=name))
    return value


def get_choice(body, name, choices):
    value = get_string(body, name, max_length=64)
    if value is not None and value not in choices:
        raise _invalid(
            _(
                "%(field)s must be one of: %(choices)s.",
                field=name,
                choices=", ".join(choices),
            )
        )
    return value


def get_date(body, name):
    value = get_string(body, name, max_length=10)
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise _invalid(_("%(field)s must be a date (YYYY-MM-DD).", field=name))
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise _invalid(
            _("%(field)s must be a date (YYYY-MM-DD).", field=name)
        ) from None


def get_query_int(query, name, default, minimum, maximum):
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,9}", raw):
        raise _bad(_("%(field)s must be a whole number.", field=name))
    value = int(raw)
    if not minimum <= value <= maximum:
        raise _bad(
            _(
                "%(field)s must be between %(min)s and %(max)s.",
                field=name,
                min=minimum,
                max=maximum,
            )
        )
    return value


def get_idempotency_key(body, required=True):
    return get_string(
        body, "idempotency_key", required=required, max_length=MAX_KEY_LENGTH
    )


def get_card_or_phone(body):
    card = get_string(body, "card", max_length=64)
    phone = get_string(body, "phone", max_length=64)
    if not card and not phone:
        raise _bad(_("Give the member's card or phone."))
    return {"card": card, "phone": phone}


def utc_timestamp(value):
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


def begin_read_committed(env):
    """Start the transaction of a write over again, in READ COMMITTED.

    Odoo's transactions are REPEATABLE READ: one that waits for a card's row
    lock fails when the holder commits ("could not serialize access due to
    concurrent update": its snapshot predates the holder's change) and is
    replayed, again and again when many requests spend one card. In READ
    COMMITTED every statement sees what was committed before it: the request
    waits for the lock and reads the card's current state under it (the ledger
    locks a card before it reads what it checks), and nothing is replayed. What
    the request read before is dropped; nothing was written.

    The level is given to the connection, which opens the next transaction with
    it (``BEGIN ISOLATION LEVEL READ COMMITTED``, no statement of its own), and
    given back to Odoo's level when the transaction ends. The controller calls
    it before the key's check: no transaction is open yet, nothing is rolled
    back. A test's cursor (a savepoint in a shared transaction) is left as it is.
    """
    if isinstance(env.cr, TestCursor):
        return
    connection = env.cr.connection
    if connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
        env.cr.rollback()
        env.clear()
    level = connection.isolation_level
    connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)

    def restore():
        if not connection.closed:
            connection.set_isolation_level(level)

    env.cr.postcommit.add(restore)
    env.cr.postrollback.add(restore)


def run_with_retries(
    env, uid, operation, args, query, body, key_user=None, begun=False
):
    """:meth:`LoyaltyApi.handle`; a write in its own READ COMMITTED transaction
    (:func:`begin_read_committed`), where requests on one card wait for its
    lock instead of failing (``begun``: the caller began it for the first try).

    Should a concurrency error still happen (a deadlock, or a serialization
    failure on a test's REPEATABLE READ cursor), the service call alone is
    rolled back and replayed at once with a short random pause; Odoo's own
    retry of the whole request (5 tries, up to 2**n seconds apart) stays
    behind it. Returns ``(status, payload)``; raises :class:`ApiError`.
    """
    write = OPERATIONS[operation]["method"] == "POST"
    search_ledger_key = False
    for attempt in range(MAX_CONCURRENCY_RETRIES):
        if write and (attempt or not begun):
            begin_read_committed(env)
        try:
            api = env["loyalty.api"]._for_user(uid, key_user)
            if search_ledger_key:
                api = api.with_context(loyalty_api_search_ledger_key=True)
            return api.handle(operation, args, query, body)
        except LoyaltyKeyTaken:
            if search_ledger_key:
                raise
            search_ledger_key = True
            env.cr.rollback()
            env.clear()
        except psycopg2.OperationalError as error:
            if (
                error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY
                or attempt == MAX_CONCURRENCY_RETRIES - 1
            ):
                raise
            env.cr.rollback()
            env.clear()
            time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))


# ---------------------------------------------------------------- operations
class LoyaltyApi(models.AbstractModel):
    """What one API user may do; every method takes validated input.

    Nothing here is callable over RPC (``_`` or :func:`api.private`): the
    operations run as superuser for the key's user, behind the HTTP API's
    authentication and validation only.
    """

    _name = "loyalty.api"
    _description = "Loyalty HTTP API"

    @api.model
    def _for_user(self, uid, key_user=None):
        """The API acting for user ``uid`` (the owner of a verified key);
        ``key_user``: what :meth:`_check_api_key` read about them."""
        # sudo for the reads and writes below, each filtered explicitly on the
        # program (and coalition partner) the key acts for; env.user stays the
        # API user, so ledger entries and group checks are theirs.
        env = self.env(user=uid, su=True)
        if key_user and key_user["uid"] == uid:
            coalition_id = key_user["coalition_id"]
            program_id = key_user["coalition_program_id"] or key_user["program_id"]
            # "today" of the user (pending windows, periods) and their company
            # (env.company: what Odoo's defaults are looked up for) without
            # reading the user again; Odoo's own fallback for the time zone is UTC
            env = env(
                context=dict(
                    env.context,
                    tz=key_user["tz"] or "UTC",
                    allowed_company_ids=[key_user["company_id"]],
                )
            )
        else:
            # archived partners too: their keys must not fall back to the
            # company's program
            coalition = (
                env["loyalty.coalition.partner"]
                .with_context(active_test=False)
                .search([("user_id", "=", uid)], limit=1)
            )
            coalition_id = coalition.id
            program_id = (
                coalition.program_id or env.user.company_id.loyalty_bonus_program_id
            ).id
        return env["loyalty.api"].with_context(
            loyalty_api_coalition_id=coalition_id, loyalty_api_program_id=program_id
        )

    @property
    def user(self):
        return self.env.user

    @property
    def company(self):
        return self.env.user.company_id

    @property
    def coalition(self):
        """The coalition partner the key acts for (archived too), or empty."""
        return (
            self.env["loyalty.coalition.partner"]
            .with_context(active_test=False)
            .browse(self.env.context.get("loyalty_api_coalition_id"))
        )

    @property
    def program(self):
        return self.env["loyalty.program"].browse(
            self.env.context.get("loyalty_api_program_id")
        )

    # ------------------------------------------------------------ auth
    @api.model
    @api.private
    def authenticate(self, authorization):
        """The user id of a Bearer API key, or :class:`ApiError` (401)."""
        return self._authenticate(authorization)["uid"]

    @api.model
    def _authenticate(self, authorization):
        """What :meth:`_check_api_key` reads about the user of a Bearer API key,
        or :class:`ApiError` (401)."""
        match = re.fullmatch(r"\s*bearer\s+(\S{1,512})\s*", authorization or "", re.I)
        key_user = match and self._check_api_key(match.group(1))
        if not key_user:
            raise ApiError(
                "unauthorized",
                _("A valid API key is required (Authorization: Bearer <key>)."),
            )
        return key_user

    @api.model
    def _check_api_key(self, key):
        """The user of an API key, as ``res.users.apikeys._check_credentials``
        (scope ``rpc``) finds them, without reading the key's row and hashing the
        key again on every request; with what the API needs about them: ``{"uid",
        "lang", "tz", "company_id", "program_id"`` (their company's bonus program),
        ``"coalition_id", "coalition_program_id"}`` (the coalition partner they
        act for, archived too), or None.

        Odoo stores a salted PBKDF2 hash of each key (6,000 rounds, about 10 ms of
        CPU per check), and reads the key's row for every call: done for every
        request, those are the biggest costs of an API request. Here the rows of
        the keys with the key's index (and their user's) are kept per process
        (:meth:`_api_key_rows`, Odoo's ``ormcache``): any change of a key (created
        or revoked), of an API user (archived, another company or language), of a
        company's program or of a coalition partner clears it, on every server
        before its next request (Odoo's cache signaling); the expiry date is
        checked on every request. The hash check is remembered per process for
        the exact stored hash and key that passed it: a SHA-256 of the key (a
        random 160-bit secret) is kept in memory, never the key. A wrong key is
        hashed every time.
        """
        try:
            rows = self._api_key_rows(key[:API_KEY_INDEX_SIZE])
        except _NoApiKey:
            return None
        digest = hashlib.sha256(key.encode()).digest()
        now = fields.Datetime.now()
        for key_id, stored, expiration, *user in rows:
            if expiration and expiration < now:
                continue
            memo = (key_id, stored)
            with _VERIFIED_KEYS_LOCK:
                known = _VERIFIED_KEYS.get(memo)
                if known is not None:
                    _VERIFIED_KEYS.move_to_end(memo)
            if not (known is not None and hmac.compare_digest(known, digest)):
                if not API_KEY_CRYPT_CONTEXT.verify(key, stored):
                    continue
                with _VERIFIED_KEYS_LOCK:
                    _VERIFIED_KEYS[memo] = digest
                    while len(_VERIFIED_KEYS) > MAX_VERIFIED_KEYS:
                        _VERIFIED_KEYS.popitem(last=False)
            return dict(
                zip(
                    (
                        "uid",
                        "lang",
                        "tz",
                        "company_id",
                        "program_id",
                        "coalition_id",
                        "coalition_program_id",
                    ),
                    user,
                    strict=True,
                )
            )
        return None

    @api.model
    @tools.ormcache("index")
    def _api_key_rows(self, index):
        """The RPC keys with this index of active users, with what the API needs
        about their user: ``(key id, stored hash, expiry, uid, lang, tz,
        company, company's program, coalition partner, its program)``. Raises
        :class:`_NoApiKey` when there is none: an unknown index is never kept
        (keys made up by a client would fill the cache)."""
        self.env.flush_all()
        query = SQL(
            """
                SELECT k.id, k.key, k.expiration_date, k.user_id, p.lang, p.tz,
                       u.company_id, c.loyalty_bonus_program_id, cp.id, cp.program_id
                  FROM res_users_apikeys k
                  JOIN res_users u ON u.id = k.user_id
                  JOIN res_partner p ON p.id = u.partner_id
                  JOIN res_company c ON c.id = u.company_id
             LEFT JOIN LATERAL (
                           SELECT id, program_id FROM loyalty_coalition_partner
                            WHERE user_id = u.id ORDER BY name, id LIMIT 1
                       ) cp ON TRUE
                 WHERE u.active AND k.index = %(index)s
                   AND (k.scope IS NULL OR k.scope = 'rpc')
                 ORDER BY k.id
                """,
            index=index,
        )
        if self.env.cr.readonly and not self.env.registry.in_test_mode():
            # a read-only route's cursor is on the replica (--db_replica_host),
            # which may not have replayed yet the change whose signal has just
            # cleared this cache: what is kept must be read on the primary, or a
            # revoked key would be kept (and accepted for writes too) until the
            # next change clears it (bench/scale.py, the revocation check)
            with self.env.registry.cursor() as cr:
                cr.execute(query)
                rows = cr.fetchall()
        else:
            rows = self.env.execute_query(query)
        if not rows:
            raise _NoApiKey()
        return tuple(tuple(row) for row in rows)

    def _check_allowed(self, operation):
        if not self.user.has_group(API_GROUP):
            raise ApiError("forbidden", _("This API key may not use the loyalty API."))
        if operation == "adjust" and not self.user.has_group(MANAGER_GROUP):
            raise ApiError(
                "forbidden", _("Only Loyalty Manager keys may adjust balances.")
            )
        if self.coalition and not self.coalition.active:
            raise ApiError(
                "forbidden",
                _(
                    "Coalition partner %(partner)s is archived.",
                    partner=self.coalition.name,
                ),
            )
        if not self.program:
            raise ApiError("not_found", _("No bonus program is configured."))

    def _check_period(self):
        """A coalition partner acts only within its active period."""
        cp = self.coalition
        if not cp:
            return
        today = fields.Date.context_today(cp)
        if (
            not cp.active
            or (cp.date_start and today < cp.date_start)
            or (cp.date_end and today > cp.date_end)
        ):
            raise ApiError(
                "forbidden",
                _(
                    "Coalition partner %(partner)s is not active today.",
                    partner=cp.name,
                ),
            )

    # ------------------------------------------------------------ dispatch
    @api.private
    def handle(self, operation, args, query, body):
        """Run ``operation``; returns ``(status, payload)`` or raises ApiError.

        On ApiError the caller must roll the transaction back.
        """
        self._check_allowed(operation)
        # a coalition partner acts only within its period, whatever it asks
        self._check_period()
        validate = getattr(self, f"_validate_{operation}")
        params = validate(args, query or {}, body or {})
        key = params.get("idempotency_key")
        request_hash = None
        if key:
            request_hash = hashlib.sha256(
                json.dumps([operation, params], sort_keys=True, default=str).encode()
            ).hexdigest()
            replay = self._claim(key, operation, request_hash)
            if replay is not None:
                return replay
            if not self.env.context.get("loyalty_api_search_ledger_key"):
                # the key was just claimed, under its unique index: the ledger
                # needs not look for an entry with it (see LoyaltyKeyTaken)
                self = self.with_context(loyalty_ledger_fresh_key=self._ledger_key(key))
        try:
            status, payload = getattr(self, operation)(params)
            self.env.flush_all()
        except LoyaltyError as error:
            raise ApiError(error.code, error.args[0]) from error
        except AccessError as error:
            raise ApiError("forbidden", error.args[0]) from error
        except UserError as error:  # ValidationError included
            raise ApiError("validation_error", error.args[0]) from error
        except psycopg2.IntegrityError as error:
            if error.pgcode != psycopg2.errorcodes.UNIQUE_VIOLATION:
                raise
            if "loyalty_phone_unique" in str(error):
                raise ApiError(
                    "duplicate_member", _("This phone belongs to a member already.")
                ) from error
            raise ApiError(
                "conflict", _("A concurrent request changed the same data.")
            ) from error
        if key:
            self._store(key, status, payload)
        return status, payload

    def _claim(self, key, operation, request_hash):
        """Record the key, or return the first answer given for it.

        ``ON CONFLICT DO NOTHING`` waits for a concurrent request holding the
        same key; if that one commits, this one (READ COMMITTED) reads the
        answer it stored; if it rolls back, this one records the key. (Under
        REPEATABLE READ, a test's cursor, PostgreSQL raises a serialization
        failure instead and the call is replayed.) Always on the primary: a
        write's routes are never read-only.
        """
        rows = self.env.execute_query(
            SQL(
                """
                INSERT INTO loyalty_api_request
                       (user_id, idempotency_key, operation, request_hash,
                        coalition_partner_id, create_uid, write_uid,
                        create_date, write_date)
                VALUES (%(uid)s, %(key)s, %(op)s, %(hash)s, %(cp)s, %(uid)s, %(uid)s,
                        now() at time zone 'utc', now() at time zone 'utc')
           ON CONFLICT (user_id, idempotency_key) DO NOTHING
             RETURNING id
                """,
                uid=self.user.id,
                key=key,
                op=operation,
                hash=request_hash,
                cp=self.coalition.id or None,
            )
        )
        if rows:
            return None
        [(stored_hash, status, body)] = self.env.execute_query(
            SQL(
                "SELECT request_hash, status_code, response_body"
                " FROM loyalty_api_request"
                " WHERE user_id = %s AND idempotency_key = %s",
                self.user.id,
                key,
            )
        )
        if stored_hash != request_hash:
            raise ApiError(
                "idempotency_conflict",
                _(
                    "Idempotency key %(key)s was already used for a different request.",
                    key=key,
                ),
            )
        return 200, json.loads(body)

    def _store(self, key, status, payload):
        self.env.execute_query(
            SQL(
                "UPDATE loyalty_api_request SET status_code = %s, response_body = %s"
                " WHERE user_id = %s AND idempotency_key = %s",
                status,
                json.dumps(payload),
                self.user.id,
                key,
            )
        )

    # ------------------------------------------------------------ lookups
    def _ledger_key(self, key):
        return f"api/{self.user.id}/{key}"

    def _card_of(self, partner, states=USABLE_STATES + ("blocked",)):
        return partner.loyalty_card_ids.filtered(
            lambda c: c.program_id == self.program
            and c.active
            and c.loyalty_state in states
        ).sorted("id")[-1:]

    def _normalize_phone(self, phone):
        try:
            return normalize_phone(phone, self.company.loyalty_phone_region or "RU")
        except ValueError:
            return None

    def _find_card(self, params, for_lookup=False, lock=False):
        """The member card named by ``card`` or ``phone``, or 404. ``lock``: the
        card is locked for the write that follows (by the query that finds it,
        for a card's code), as :meth:`loyalty.ledger._lock_cards` locks it."""
        Card = self.env["loyalty.card"]
        card = Card.browse()
        if params.get("card"):
            # the card's number in the key's program, of an active contact (an
            # archived one is no member, as by phone); one query, written out
            # for the planner (this is every request's)
            condition = SQL(
                "c.code = %s AND c.program_id = %s AND c.active AND p.active",
                params["card"],
                self.program.id,
            )
            if for_lookup:
                condition = SQL(
                    "%s AND c.loyalty_state NOT IN %s", condition, ("lost", "replaced")
                )
            card = self._ledger()._read_cards_where(
                condition,
                lock=lock,
                member_fields=self._member_fields(),
                pending=not lock,
                program=lock,
            )
        elif params.get("phone"):
            phone = self._normalize_phone(params["phone"])
            partner = phone and self.env["res.partner"].search(
                [("loyalty_phone", "=", phone)], limit=1
            )
            card = self._card_of(partner) if partner else card
            if lock and card:
                self._ledger()._lock_cards(card)
        if not card or not card.partner_id:
            raise ApiError("not_found", _("No member with this card or phone."))
        # what the operations and the answer read of the member, not the 100-odd
        # columns of res.partner a first access would read (nothing when read
        # with the card)
        card.partner_id.fetch(self._member_fields())
        return card

    def _member_fields(self):
        """The member's fields an operation and its answer read
        (:meth:`member_object`, the ledger's posting, the tier after it)."""
        return [
            "name",
            "email",
            "loyalty_phone",
            "loyalty_referral_code",
            "loyalty_referrer_id",
            "loyalty_tier_id",
            "loyalty_card_id",
        ]

    def _ledger(self):
        return self.env["loyalty.ledger"]

    def _partner(self):
        """The coalition partner every entry of this key's calls is attributed to."""
        return self.coalition or None

    # ------------------------------------------------------------ objects
    @api.private
    def member_object(self, partner, card=None):
        card = card or self._card_of(partner)
        tier = partner.loyalty_tier_id
        if tier:
            name, multiplier = self.program._loyalty_tier_info(tier)
        expiring = {}
        if card:
            for _lot, _card, points, expiry in self.env["loyalty.ledger"]._open_lots(
                card
            ):
                if expiry:
                    expiring[expiry] = expiring.get(expiry, 0.0) + points
        return {
            "id": partner.id,
            "name": partner.name,
            "phone": partner.loyalty_phone or None,
            "email": partner.email or None,
            "card": card and {"code": card.code, "state": card.loyalty_state} or None,
            "tier": tier and {"name": name, "multiplier": multiplier} or None,
            "balance": {
                "available": round(card.points, 2) if card else 0.0,
                "pending": round(card.points_pending, 2) if card else 0.0,
                "debt": round(card.loyalty_debt, 2) if card else 0.0,
                "expiring": [
                    {"points": round(points, 2), "date": date.isoformat()}
                    for date, points in sorted(expiring.items())
                ],
            },
            "referral_code": partner.loyalty_referral_code or None,
        }

    @staticmethod
    @api.private
    def transaction_object(entry):
        """One transaction: an entry, or the entries one operation wrote (a
        reversal that gives back several lots, a return that leaves a debt)."""
        if not entry:
            return None
        entries, entry = entry, entry[0]
        cp = entry.coalition_partner_id
        return {
            "id": entry.id,
            "type": entry.entry_type,
            "points": round(sum(entries.mapped("points")), 2),
            "state": entry.state,
            "created_at": utc_timestamp(entry.date),
            "reference": entry.reason or None,
            "partner": cp and {"id": cp.id, "name": cp.name} or None,
            "amount": round(entry.amount, 2) if entry.amount else None,
            "card": entry.card_id.code,
        }

    def _answer(self, entry, partner, status=201, card=None):
        """``card``: the card the operation used, when it is the member's card
        (an accrual or a redemption on a usable card), not looked up again."""
        return status, {
            "transaction": self.transaction_object(entry),
            "member": self.member_object(partner, card),
        }

    # ------------------------------------------------------------ members
    def _validate_lookup(self, args, query, body):
        card = get_string(query, "card", max_length=64)
        phone = get_string(query, "phone", max_length=64)
        if not card and not phone:
            raise _bad(_("Give ?phone= or ?card=."))
        return {"card": card, "phone": phone}

    @api.private
    def lookup(self, params):
        card = self._find_card(params, for_lookup=True)
        return 200, {"member": self.member_object(card.partner_id, card)}

    def _validate_create_member(self, args, query, body):
        channels = body.get("channels")
        if channels is not None:
            if not isinstance(channels, list) or not all(
                isinstance(c, str) for c in channels
            ):
                raise _bad(_("channels must be a list of strings."))
            if len(channels) > len(CHANNELS) or set(channels) - set(CHANNELS):
                raise _invalid(
                    _(
                        "channels are some of: %(choices)s.",
                        choices=", ".join(CHANNELS),
                    )
                )
            channels = sorted(set(channels))
        params = {
            "name": get_string(body, "name", required=True, max_length=128),
            "phone": get_string(body, "phone", required=True, max_length=64),
            "email": get_string(body, "email", max_length=254),
            "birthdate": get_date(body, "birthdate"),
            "gender": get_choice(body, "gender", GENDERS),
            "marital_status": get_choice(body, "marital_status", MARITAL_STATUSES),
            "employment": get_choice(body, "employment", EMPLOYMENTS),
            "channels": channels,
            "consent": get_bool(body, "consent"),
            "source": get_string(body, "source", max_length=128),
            "referral_code": get_string(body, "referral_code", max_length=64),
            "idempotency_key": get_idempotency_key(body, required=False),
        }
        if params["email"] and not re.fullmatch(
            r"[^@\s]+@[^@\s]+\.[^@\s]+", params["email"]
        ):
            raise _invalid(_("email is not a valid address."))
        if params["birthdate"] and not (
            datetime.date(1900, 1, 1) <= params["birthdate"] <= datetime.date.today()
        ):
            raise _invalid(_("birthdate is not a plausible birth date."))
        return params

    @api.private
    def create_member(self, params):
        phone = self._normalize_phone(params["phone"])
        if not phone:
            raise ApiError(
                "invalid_phone",
                _("%(phone)s is not a valid phone number.", phone=params["phone"]),
            )
        Partner = self.env["res.partner"].with_context(active_test=False)
        if Partner.search_count([("loyalty_phone", "=", phone)], limit=1):
            raise ApiError(
                "duplicate_member",
                _("Phone %(phone)s already belongs to a member.", phone=phone),
            )
        vals = {
            "name": params["name"],
            "phone": phone,
            "email": params["email"] or False,
            "loyalty_birthdate": params["birthdate"] or False,
            "loyalty_gender": params["gender"] or False,
            "loyalty_marital_status": params["marital_status"] or False,
            "loyalty_employment": params["employment"] or False,
        }
        if params["channels"]:
            vals["loyalty_channel_ids"] = [
                (
                    6,
                    0,
                    self.env["loyalty.notification.channel"]
                    .search([("code", "in", params["channels"])])
                    .ids,
                )
            ]
        if params["source"]:
            vals["loyalty_source_id"] = (
                self.env["utm.mixin"]
                ._find_or_create_record("utm.source", params["source"])
                .id
            )
        partner = self.env["res.partner"].create(vals)
        card = partner._loyalty_enrol(
            program=self.program,
            source="api",
            consent=params["consent"],
            referral_code=params["referral_code"],
            coalition_partner=self._partner(),
        )
        return 201, {"member": self.member_object(partner, card)}

    def _validate_transactions(self, args, query, body):
        if args["member_id"] > MAX_ID:
            raise ApiError("not_found", _("No such member."))
        return {
            "member_id": args["member_id"],
            "limit": get_query_int(query, "limit", 50, 1, 200),
            "offset": get_query_int(query, "offset", 0, 0, 10**9),
        }

    @api.private
    def transactions(self, params):
        partner = self.env["res.partner"].browse(params["member_id"]).exists()
        if not partner or not partner.loyalty_card_ids.filtered(
            lambda c: c.program_id == self.program
        ):
            raise ApiError("not_found", _("No such member."))
        domain = [("partner_id", "=", partner.id), ("program_id", "=", self.program.id)]
        Ledger = self.env["loyalty.ledger"]
        entries = Ledger.search(
            domain,
            limit=params["limit"],
            offset=params["offset"],
            order="date desc, id desc",
        )
        return 200, {
            "transactions": [self.transaction_object(e) for e in entries],
            "total": Ledger.search_count(domain),
        }

    # ------------------------------------------------------------ points
    def _validate_accrue(self, args, query, body):
        params = get_card_or_phone(body)
        lines = body.get("lines")
        if lines is not None:
            if not isinstance(lines, list) or not all(
                isinstance(line, dict) for line in lines
            ):
                raise _bad(_("lines must be a list of objects."))
            if len(lines) > MAX_LINES:
                raise _invalid(_("Too many lines."))
            lines = [
                {
                    "sku": get_string(line, "sku", max_length=64),
                    "category": get_string(line, "category", max_length=128),
                    "qty": get_number(line, "qty", sign=None, decimals=3) or 1.0,
                    "amount": get_number(line, "amount", required=True, sign=None),
                }
                for line in lines
            ]
        params.update(
            amount=get_number(body, "amount", required=True),
            idempotency_key=get_idempotency_key(body),
            reference=get_string(body, "reference", max_length=256),
            lines=lines or None,
        )
        return params

    @api.private
    def accrue(self, params):
        card = self._find_card(params, lock=True)
        lines = None
        if params["lines"]:
            skus = {line["sku"] for line in params["lines"] if line["sku"]}
            products = self.env["product.product"].search(
                [("default_code", "in", list(skus))]
            )
            by_sku = {p.default_code: p for p in products}
            Product = self.env["product.product"]
            lines = [
                (by_sku.get(line["sku"], Product), line["qty"], line["amount"])
                for line in params["lines"]
            ]
        amount = params["amount"]
        if lines:
            # lines net out per product and never earn on more than the amount
            lines, amount, _unmatched = self.env["loyalty.settlement"]._earning_basis(
                lines, money_paid=amount
            )
            if not lines:
                raise ApiError(
                    "validation_error", _("These lines earn nothing: their net is 0.")
                )
        entry = self._ledger()._accrue_purchase(
            card,
            amount,
            self._ledger_key(params["idempotency_key"]),
            lines=lines,
            reference=params["reference"],
            coalition_partner=self._partner(),
            locked=True,
        )
        return self._answer(entry, card.partner_id, card=card)

    def _validate_redeem(self, args, query, body):
        params = get_card_or_phone(body)
        params.update(
            points=get_number(body, "points", required=True),
            order_amount=get_number(body, "order_amount", required=True),
            idempotency_key=get_idempotency_key(body),
            reference=get_string(body, "reference", max_length=256),
            otp_id=get_number(body, "otp_id", decimals=0),
            otp_code=get_string(body, "otp_code", max_length=16),
        )
        return params

    @api.private
    def redeem(self, params):
        card = self._find_card(params, lock=True)
        if not params.get("card"):  # found by phone: the SMS code, if asked for
            self.env["loyalty.ledger"]._check_card_usable(card)
            self.env["loyalty.otp"]._loyalty_check_spend(
                card,
                {"otp_id": int(params["otp_id"] or 0), "code": params["otp_code"]},
                self._ledger_key(params["idempotency_key"]),
            )
        entry = self._ledger()._redeem(
            card,
            params["points"],
            params["order_amount"],
            self._ledger_key(params["idempotency_key"]),
            reference=params["reference"],
            coalition_partner=self._partner(),
            locked=True,
        )
        return self._answer(entry, card.partner_id, card=card)

    def _validate_reverse(self, args, query, body):
        if args["transaction_id"] > MAX_ID:
            raise ApiError("not_found", _("No such transaction."))
        return {
            "transaction_id": args["transaction_id"],
            "amount": get_number(body, "amount"),
            "idempotency_key": get_idempotency_key(body),
            "reason": get_string(body, "reason", max_length=256),
        }

    @api.private
    def reverse(self, params):
        domain = [
            ("id", "=", params["transaction_id"]),
            ("program_id", "=", self.program.id),
        ]
        if self.coalition:
            domain.append(("coalition_partner_id", "=", self.coalition.id))
        entry = self.env["loyalty.ledger"].search(domain, limit=1)
        if not entry:
            raise ApiError("not_found", _("No such transaction."))
        reversal = entry._reverse(
            self._ledger_key(params["idempotency_key"]),
            amount=params["amount"],
            reason=params["reason"],
        )
        return self._answer(reversal, entry.card_id._loyalty_current_card().partner_id)

    def _validate_adjust(self, args, query, body):
        params = get_card_or_phone(body)
        params.update(
            points=get_number(body, "points", required=True, sign=0),
            reason=get_string(body, "reason", required=True, max_length=256),
            idempotency_key=get_idempotency_key(body),
        )
        return params

    @api.private
    def adjust(self, params):
        card = self._find_card(params, lock=True)
        partner = card.partner_id
        if card.points + params["points"] < -0.005:
            raise ApiError(
                "insufficient_points",
                _(
                    "Card %(code)s has %(balance)s points: %(points)s cannot be taken.",
                    code=card.code,
                    balance=card.points,
                    points=-params["points"],
                ),
            )
        entry = partner._loyalty_adjust(
            params["points"],
            params["reason"],
            card=card,
            coalition_partner=self._partner(),
        )
        return self._answer(entry, partner)

    def _validate_replace_card(self, args, query, body):
        new_code = get_string(body, "new_code", max_length=64)
        if new_code and not re.fullmatch(r"[0-9A-Za-z_-]{4,64}", new_code):
            raise _invalid(_("new_code may hold only letters, digits, - and _."))
        return {
            "code": args["code"][:64],
            "new_code": new_code,
            "reason": get_string(body, "reason", max_length=256),
            "idempotency_key": get_idempotency_key(body, required=False),
        }

    @api.private
    def replace_card(self, params):
        card = self.env["loyalty.card"].search(
            [("code", "=", params["code"]), ("program_id", "=", self.program.id)],
            limit=1,
        )
        if not card or not card.partner_id:
            raise ApiError("not_found", _("No such card."))
        # its state as it is under the lock (a concurrent replacement)
        self._ledger()._lock_cards(card)
        if card.loyalty_state not in USABLE_STATES + ("blocked",):
            raise ApiError(
                "card_not_active",
                _(
                    "Card %(code)s is %(state)s: it cannot be replaced.",
                    code=card.code,
                    state=card._loyalty_state_label(),
                ),
            )
        new = card._loyalty_replace(
            params["reason"] or _("Replaced through the API"),
            new_code=params["new_code"],
            lost=False,
        )
        return 201, {"member": self.member_object(card.partner_id, new)}

    # ------------------------------------------------------------ SMS codes
    def _validate_request_otp(self, args, query, body):
        return {"phone": get_string(body, "phone", required=True, max_length=64)}

    @api.private
    def request_otp(self, params):
        """Step 1 of a redemption by phone: send the member the SMS code."""
        self._check_period()
        card = self._find_card(params)
        if not card.program_id.spend_otp:
            raise ApiError(
                "validation_error",
                _("Redemptions by phone need no code in this program."),
            )
        self.env["loyalty.ledger"]._check_card_usable(card)
        public = self.env["loyalty.otp"]._loyalty_request(card, "api")._loyalty_public()
        return 201, {
            "otp": {
                "id": public["otp_id"],
                "phone": public["phone"],
                "expires_at": utc_timestamp(public["expires_at"]),
                "resend_after_seconds": public["resend_in"],
                "attempts_left": public["attempts_left"],
            }
        }


# ---------------------------------------------------------------- route table
_COMMON = (400, 401, 403)
OPERATIONS = {
    "lookup": {
        "method": "GET",
        "path": "/members/lookup",
        "statuses": (200, *_COMMON, 404),
        "summary": "Find a member by phone or card",
        "query": ("phone", "card"),
        "response": "MemberResponse",
    },
    "create_member": {
        "method": "POST",
        "path": "/members",
        "statuses": (200, 201, *_COMMON, 409, 422),
        "summary": "Enrol a new member",
        "request": "MemberCreate",
        "response": "MemberResponse",
    },
    "transactions": {
        "method": "GET",
        "path": "/members/{member_id}/transactions",
        "statuses": (200, *_COMMON, 404),
        "summary": "A member's transactions, newest first",
        "query": ("limit", "offset"),
        "response": "TransactionList",
    },
    "accrue": {
        "method": "POST",
        "path": "/accruals",
        "statuses": (200, 201, *_COMMON, 404, 409, 422),
        "summary": "Earn points for a purchase",
        "request": "Accrual",
        "response": "TransactionResponse",
    },
    "redeem": {
        "method": "POST",
        "path": "/redemptions",
        "statuses": (200, 201, *_COMMON, 404, 409, 422),
        "summary": "Spend points on an order",
        "request": "Redemption",
        "response": "TransactionResponse",
    },
    "reverse": {
        "method": "POST",
        "path": "/transactions/{transaction_id}/reversal",
        "statuses": (200, 201, *_COMMON, 404, 409, 422),
        "summary": "Reverse an accrual (fully or for a returned amount) or a "
        "redemption",
        "request": "Reversal",
        "response": "TransactionResponse",
    },
    "adjust": {
        "method": "POST",
        "path": "/adjustments",
        "statuses": (200, 201, *_COMMON, 404, 409, 422),
        "summary": "Correct a balance (Loyalty Manager keys only)",
        "request": "Adjustment",
        "response": "TransactionResponse",
    },
    "request_otp": {
        "method": "POST",
        "path": "/redemptions/otp",
        "validate": LoyaltyApi._validate_request_otp,
        "statuses": (201, *_COMMON, 404, 422, 429),
        "summary": "Send the SMS code that confirms a redemption by phone (v1.2)",
        "request": "OtpRequest",
        "response": "OtpResponse",
    },
    "replace_card": {
        "method": "POST",
        "path": "/cards/{code}/replace",
        "statuses": (200, 201, *_COMMON, 404, 409, 422),
        "summary": "Replace a card: balance and history move to the new card",
        "request": "CardReplace",
        "response": "MemberResponse",
    },
}

# the werkzeug converter of each path parameter ("{member_id}" -> "<int:member_id>")
PATH_CONVERTERS = {"member_id": "int", "transaction_id": "int", "code": "string"}


def path_arguments(operation):
    """The names of an operation's path parameters, in order."""
    return re.findall(r"\{(\w+)\}", OPERATIONS[operation]["path"])


def route_rule(operation):
    """The werkzeug rule of an operation (base path included)."""
    return BASE_PATH + re.sub(
        r"\{(\w+)\}",
        lambda match: f"<{PATH_CONVERTERS[match.group(1)]}:{match.group(1)}>",
        OPERATIONS[operation]["path"],
    )
