"""The OpenAPI 3 description of the API, generated from its route table."""

from ..models.loyalty_api import (
    BASE_PATH,
    CHANNELS,
    EMPLOYMENTS,
    GENDERS,
    MARITAL_STATUSES,
    MAX_KEY_LENGTH,
    OPERATIONS,
    STATUS_BY_CODE,
)

NUMBER = {"type": "number", "multipleOf": 0.01}
POSITIVE = dict(NUMBER, exclusiveMinimum=0)
KEY = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
CARD_OR_PHONE = {
    "card": {"type": "string", "maxLength": 64, "description": "Card number"},
    "phone": {
        "type": "string",
        "maxLength": 64,
        "description": "Phone in any common notation (instead of card)",
    },
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(STATUS_BY_CODE)},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Member": {
        "type": "object",
        "required": ["id", "name", "phone", "card", "balance"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "phone": {"type": "string", "nullable": True, "example": "+79991234567"},
            "email": {"type": "string", "nullable": True},
            "card": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "code": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": ["issued", "active", "blocked", "lost", "replaced"],
                    },
                },
            },
            "tier": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "name": {"type": "string"},
                    "multiplier": {"type": "number"},
                },
            },
            "balance": {
                "type": "object",
                "properties": {
                    "available": NUMBER,
                    "pending": NUMBER,
                    "expiring": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "points": NUMBER,
                                "date": {"type": "string", "format": "date"},
                            },
                        },
                    },
                },
            },
            "referral_code": {"type": "string", "nullable": True},
        },
    },
    "Transaction": {
        "type": "object",
        "required": ["id", "type", "points", "state", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "type": {
                "type": "string",
                "enum": [
                    "accrual",
                    "redemption",
                    "reversal",
                    "expiry",
                    "adjustment",
                    "bonus",
                    "transfer",
                ],
            },
            "points": NUMBER,
            "state": {
                "type": "string",
                "enum": ["pending", "available", "posted", "cancelled"],
            },
            "created_at": {"type": "string", "format": "date-time"},
            "reference": {"type": "string", "nullable": True},
            "partner": {
                "type": "object",
                "nullable": True,
                "description": "The coalition partner the transaction was made at",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "amount": dict(NUMBER, nullable=True),
            "card": {"type": "string"},
        },
    },
    "MemberResponse": {
        "type": "object",
        "required": ["member"],
        "properties": {"member": _ref("Member")},
    },
    "TransactionResponse": {
        "type": "object",
        "required": ["transaction", "member"],
        "properties": {
            "transaction": dict(_ref("Transaction"), nullable=True),
            "member": _ref("Member"),
        },
    },
    "TransactionList": {
        "type": "object",
        "required": ["transactions", "total"],
        "properties": {
            "transactions": {"type": "array", "items": _ref("Transaction")},
            "total": {"type": "integer"},
        },
    },
    "MemberCreate": {
        "type": "object",
        "required": ["name", "phone"],
        "properties": {
            "name": {"type": "string", "maxLength": 128},
            "phone": {"type": "string", "maxLength": 64},
            "email": {"type": "string", "maxLength": 254},
            "birthdate": {"type": "string", "format": "date"},
            "gender": {"type": "string", "enum": list(GENDERS)},
            "marital_status": {"type": "string", "enum": list(MARITAL_STATUSES)},
            "employment": {"type": "string", "enum": list(EMPLOYMENTS)},
            "channels": {
                "type": "array",
                "items": {"type": "string", "enum": list(CHANNELS)},
            },
            "consent": {
                "type": "boolean",
                "description": "true to accept marketing messages",
            },
            "source": {"type": "string", "description": "UTM source name"},
            "referral_code": {"type": "string"},
            "idempotency_key": KEY,
        },
    },
    "Accrual": {
        "type": "object",
        "required": ["amount", "idempotency_key"],
        "properties": dict(
            CARD_OR_PHONE,
            amount=dict(POSITIVE, description="Purchase total"),
            idempotency_key=KEY,
            reference={"type": "string", "maxLength": 256},
            lines={
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["amount"],
                    "properties": {
                        "sku": {"type": "string"},
                        "category": {"type": "string"},
                        "qty": {"type": "number", "minimum": 0},
                        "amount": dict(NUMBER, minimum=0),
                    },
                },
            },
        ),
    },
    "Redemption": {
        "type": "object",
        "required": ["points", "order_amount", "idempotency_key"],
        "properties": dict(
            CARD_OR_PHONE,
            points=POSITIVE,
            order_amount=POSITIVE,
            idempotency_key=KEY,
            reference={"type": "string", "maxLength": 256},
            otp_id={
                "type": "integer",
                "description": "v1.2: with phone (no card), when the program asks "
                "for an SMS code: the id from POST /redemptions/otp",
            },
            otp_code={
                "type": "string",
                "maxLength": 16,
                "description": "v1.2: the code the member received by SMS",
            },
        ),
    },
    "OtpRequest": {
        "type": "object",
        "required": ["phone"],
        "properties": {"phone": {"type": "string", "maxLength": 64}},
    },
    "OtpResponse": {
        "type": "object",
        "properties": {
            "otp": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "phone": {"type": "string", "description": "masked"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "resend_after_seconds": {"type": "integer"},
                    "attempts_left": {"type": "integer"},
                },
            }
        },
    },
    "Reversal": {
        "type": "object",
        "required": ["idempotency_key"],
        "properties": {
            "idempotency_key": KEY,
            "amount": dict(
                POSITIVE, description="For a partial return: the returned amount"
            ),
            "reason": {"type": "string", "maxLength": 256},
        },
    },
    "Adjustment": {
        "type": "object",
        "required": ["points", "reason", "idempotency_key"],
        "properties": dict(
            CARD_OR_PHONE,
            points=dict(NUMBER, description="Non-zero, may be negative"),
            reason={"type": "string", "maxLength": 256},
            idempotency_key=KEY,
        ),
    },
    "CardReplace": {
        "type": "object",
        "properties": {
            "new_code": {"type": "string", "maxLength": 64},
            "reason": {"type": "string", "maxLength": 256},
            "idempotency_key": KEY,
        },
    },
}

DESCRIPTIONS = {
    200: "Success (for a POST: the replay of an earlier request with the same "
    "idempotency key and body)",
    201: "Created",
    400: "Malformed request (not JSON, wrong content type, wrong types, missing "
    "fields, body too large)",
    401: "Missing or invalid API key",
    403: "The key may not do this",
    404: "Not found",
    409: "Conflict (duplicate, already reversed, idempotency key reused with "
    "another body)",
    422: "Refused by a rule",
    429: "Too many SMS codes asked for this member (wait, or use the card)",
}

PATH_PARAMS = {
    "member_id": {"type": "integer"},
    "transaction_id": {"type": "integer"},
    "code": {"type": "string"},
}
QUERY_PARAMS = {
    "phone": {"type": "string"},
    "card": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "offset": {"type": "integer", "minimum": 0, "default": 0},
}


def openapi_document(server_url=None):
    paths = {
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3 document"}},
            }
        }
    }
    for name, op in OPERATIONS.items():
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": schema}
            for p, schema in PATH_PARAMS.items()
            if f"{{{p}}}" in op["path"]
        ] + [
            {"name": q, "in": "query", "schema": QUERY_PARAMS[q]}
            for q in op.get("query", ())
        ]
        responses = {}
        for status in op["statuses"]:
            schema = _ref(op["response"]) if status < 300 else _ref("Error")
            responses[str(status)] = {
                "description": DESCRIPTIONS[status],
                "content": {"application/json": {"schema": schema}},
            }
        operation = {
            "operationId": name,
            "summary": op["summary"],
            "parameters": parameters,
            "responses": responses,
        }
        if op.get("request"):
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op["request"])}},
            }
        paths.setdefault(op["path"], {})[op["method"].lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "loyalty_crm HTTP API",
            "version": "1.0.0",
            "description": "Members, points and cards of the bonus program. "
            'Errors are {"error": {"code", "message"}}. A POST with an '
            "idempotency_key already answered for the same body returns the "
            "first answer with status 200.",
        },
        "servers": [{"url": (server_url or "") + BASE_PATH}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An Odoo API key of a user in the Loyalty API group",
                }
            },
            "schemas": SCHEMAS,
        },
    }
