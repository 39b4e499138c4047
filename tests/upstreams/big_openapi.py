"""A realistic, large OpenAPI 3.0 document (about 1,100 operations), generated deterministically:
a CRM/billing/messaging SaaS API of the kind catalogs are made for, with tags, shared
`$ref` parameters and schemas, OAuth2 scopes per operation, nullable fields and recursive
schemas (folders in folders, comment threads).

    spec = big_spec()            # a dict; json.dumps(spec) is ~2 MB
    python tests/upstreams/big_openapi.py > big.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

# service → its resources (plural, singular)
SERVICES: dict[str, list[tuple[str, str]]] = {
    "contacts": [("contacts", "contact"), ("companies", "company"), ("notes", "note"), ("tasks", "task")],
    "sales": [("deals", "deal"), ("pipelines", "pipeline"), ("quotes", "quote"), ("forecasts", "forecast")],
    "billing": [
        ("invoices", "invoice"),
        ("payments", "payment"),
        ("subscriptions", "subscription"),
        ("refunds", "refund"),
        ("coupons", "coupon"),
    ],
    "messaging": [("conversations", "conversation"), ("messages", "message"), ("templates", "message template")],
    "calendars": [("calendars", "calendar"), ("events", "calendar event"), ("bookings", "booking")],
    "marketing": [
        ("campaigns", "campaign"),
        ("emails", "marketing email"),
        ("lists", "mailing list"),
        ("forms", "form"),
        ("surveys", "survey"),
    ],
    "automation": [("workflows", "workflow"), ("triggers", "trigger"), ("webhooks", "webhook")],
    "users": [("users", "user"), ("teams", "team"), ("roles", "role")],
    "files": [("files", "file"), ("folders", "folder")],
    "catalog": [("products", "product"), ("prices", "price"), ("inventory-items", "inventory item")],
    "support": [("tickets", "support ticket"), ("comments", "comment"), ("slas", "service level agreement")],
    "locations": [("locations", "location"), ("custom-fields", "custom field"), ("tags", "tag")],
    "analytics": [("reports", "report"), ("dashboards", "dashboard")],
}

# (suffix, method, operation verb, summary template); {s} is the singular, {p} the plural.
STANDARD = [
    ("", "get", "list", "List {p}, newest first, with filters and pagination"),
    ("", "post", "create", "Create a {s}"),
    ("/{id}", "get", "get", "Get one {s} by id"),
    ("/{id}", "put", "replace", "Replace a {s} entirely"),
    ("/{id}", "patch", "update", "Update some fields of a {s}"),
    ("/{id}", "delete", "delete", "Delete a {s} permanently"),
    ("/search", "post", "search", "Search {p} by text and field filters"),
    ("/bulk", "post", "bulkCreate", "Create many {p} at once"),
    ("/bulk", "delete", "bulkDelete", "Delete many {p} at once"),
    ("/export", "post", "export", "Export {p} to a CSV file"),
    ("/import", "post", "import", "Import {p} from a CSV file"),
    ("/{id}/archive", "post", "archive", "Archive a {s} (hidden, kept)"),
    ("/{id}/restore", "post", "restore", "Restore an archived {s}"),
    ("/{id}/duplicate", "post", "duplicate", "Duplicate a {s}"),
    ("/{id}/owner", "put", "assignOwner", "Assign a {s} to a user"),
    ("/{id}/activity", "get", "listActivity", "List the change history of a {s}"),
    ("/{id}/tags", "post", "addTag", "Add a tag to a {s}"),
    ("/{id}/tags/{tagId}", "delete", "removeTag", "Remove a tag from a {s}"),
    ("/{id}/attachments", "get", "listAttachments", "List files attached to a {s}"),
    ("/{id}/attachments", "post", "attach", "Attach a file to a {s}"),
    ("/{id}/followers", "post", "follow", "Follow a {s} to be notified of its changes"),
    ("/{id}/followers/{userId}", "delete", "unfollow", "Stop following a {s}"),
    ("/{id}/merge", "post", "merge", "Merge a duplicate {s} into this one"),
    ("/count", "get", "count", "Count {p} matching filters"),
    ("/{id}/notes", "get", "listNotesOf", "List the internal notes on a {s}"),
    ("/{id}/notes", "post", "addNoteTo", "Add an internal note to a {s}"),
]
COLLECTION_VERBS = {"list", "search", "bulkCreate", "bulkDelete", "export", "import", "count"}

# Operations only some resources have, phrased as their docs would.
SPECIFIC: dict[str, list[tuple[str, str, str, str]]] = {
    "invoices": [
        ("/{id}/send", "post", "sendInvoice", "Email an invoice to the customer"),
        ("/{id}/reminders", "post", "sendInvoiceReminder", "Send a payment reminder for an overdue invoice"),
        ("/{id}/void", "post", "voidInvoice", "Void an invoice so it can no longer be paid"),
        ("/{id}/pdf", "get", "downloadInvoicePdf", "Download the invoice as a PDF"),
        ("/{id}/record-payment", "post", "recordManualPayment", "Record a payment received outside the platform"),
    ],
    "contacts": [
        ("/{id}/dnd", "put", "setDoNotDisturb", "Stop all calls, texts and emails to a contact (do not disturb)"),
        ("/{id}/workflows/{workflowId}", "post", "addContactToWorkflow", "Enrol a contact in an automation workflow"),
        ("/{id}/appointments", "get", "listContactAppointments", "List a contact's upcoming appointments"),
    ],
    "messages": [
        ("/sms", "post", "sendSms", "Send a text message (SMS) to a phone number"),
        ("/email", "post", "sendEmail", "Send a one-off email to a contact"),
        ("/{id}/cancel", "post", "cancelScheduledMessage", "Cancel a message scheduled for later"),
    ],
    "bookings": [
        ("/free-slots", "get", "listFreeSlots", "Find free time slots for an appointment"),
        ("/{id}/reschedule", "post", "rescheduleBooking", "Move an appointment to another time"),
    ],
    "subscriptions": [
        ("/{id}/pause", "post", "pauseSubscription", "Pause a recurring subscription's billing"),
        ("/{id}/cancel", "post", "cancelSubscription", "Cancel a subscription at the end of its period"),
    ],
    "workflows": [("/{id}/publish", "post", "publishWorkflow", "Publish a workflow draft so it starts running")],
    "users": [("/{id}/password-reset", "post", "resetUserPassword", "Send a user a link to reset their password")],
}


def _camel(*words: str) -> str:
    parts = [w for word in words for w in word.replace("-", " ").split()]
    return parts[0][0].lower() + parts[0][1:] + "".join(p[0].upper() + p[1:] for p in parts[1:])


def _schema_name(singular: str) -> str:
    return "".join(part.capitalize() for part in singular.replace("-", " ").split())


def _resource_schema(singular: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name"],
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string", "description": f"The {singular}'s display name"},
            "description": {"type": "string", "nullable": True},
            "ownerId": {"type": "string", "nullable": True, "description": "The user responsible for it"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"$ref": "#/components/schemas/Address"},
            "amount": {"$ref": "#/components/schemas/Money"},
            "customFields": {"type": "array", "items": {"$ref": "#/components/schemas/CustomFieldValue"}},
            "createdAt": {"type": "string", "format": "date-time", "readOnly": True},
        },
    }


def big_spec() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "Address": {
            "type": "object",
            "properties": {k: {"type": "string", "nullable": True} for k in ("line1", "city", "postalCode", "country")},
        },
        "Money": {
            "type": "object",
            "required": ["value", "currency"],
            "properties": {
                "value": {"type": "number", "minimum": 0},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        },
        "CustomFieldValue": {"type": "object", "properties": {"fieldId": {"type": "string"}, "value": {}}},
        "Page": {
            "type": "object",
            "properties": {"nextCursor": {"type": "string", "nullable": True}, "total": {"type": "integer"}},
        },
        "Error": {
            "type": "object",
            "properties": {"message": {"type": "string"}, "details": {"type": "array", "items": {}}},
        },
    }
    tags = []
    for service, resources in SERVICES.items():
        tags.append(
            {"name": service, "description": f"Everything about {service}: " + ", ".join(p for p, _ in resources)}
        )
        for plural, singular in resources:
            name = _schema_name(singular)
            schemas[name] = _resource_schema(singular)
            if plural == "folders":  # recursive: folders hold folders
                schemas[name]["properties"]["children"] = {
                    "type": "array",
                    "items": {"$ref": f"#/components/schemas/{name}"},
                }
            if plural == "comments":  # recursive: a thread of replies
                schemas[name]["properties"]["replies"] = {
                    "type": "array",
                    "items": {"$ref": f"#/components/schemas/{name}"},
                }
            standard = [(*entry, False) for entry in STANDARD]
            specific = [(*entry, True) for entry in SPECIFIC.get(plural, [])]
            for suffix, method, verb, summary, named in standard + specific:
                op_id = verb if named else _camel(verb, plural if verb in COLLECTION_VERBS else singular)
                path = f"/{plural}{suffix}"
                operation: dict[str, Any] = {
                    "operationId": op_id,
                    "summary": summary.format(s=singular, p=plural),
                    "description": f"{summary.format(s=singular, p=plural)}. Changes need the `{plural}.write` scope.",
                    "tags": [service],
                    "parameters": [{"$ref": "#/components/parameters/LocationId"}],
                    "security": [{"oauth": [f"{plural}.{'readonly' if method == 'get' else 'write'}"]}],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                        },
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "422": {
                            "description": "Invalid input",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    },
                }
                for placeholder in ("id", "tagId", "userId", "workflowId"):
                    if "{" + placeholder + "}" in path:
                        operation["parameters"].append(
                            {"name": placeholder, "in": "path", "required": True, "schema": {"type": "string"}}
                        )
                if method == "get" and "{id}" not in suffix:
                    operation["parameters"] += [
                        {"$ref": "#/components/parameters/Limit"},
                        {"$ref": "#/components/parameters/Cursor"},
                        {
                            "name": "query",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": f"Text to match in {plural}",
                        },
                    ]
                if method in ("post", "put", "patch") and verb not in ("archive", "restore", "duplicate", "follow"):
                    operation["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                    }
                paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Acme Business Platform", "version": "2.0"},
        "servers": [{"url": "https://api.acme.test/v2"}],
        "tags": tags,
        "security": [{"oauth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "https://acme.test/oauth",
                            "tokenUrl": "https://acme.test/token",
                            "scopes": {},
                        }
                    },
                }
            },
            "parameters": {
                "LocationId": {
                    "name": "locationId",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The sub-account",
                },
                "Limit": {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                "Cursor": {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            },
            "responses": {
                "Unauthorized": {
                    "description": "Missing or bad token",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": schemas,
        },
    }


def operation_count(spec: dict[str, Any]) -> int:
    return sum(len(item) for item in spec["paths"].values())


if __name__ == "__main__":
    json.dump(big_spec(), sys.stdout)
