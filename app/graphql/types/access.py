"""Access-control types: operator logins, partner API keys, audit records."""

import json
from datetime import datetime

import strawberry
from strawberry import relay

from app.db.models import ApiKey as ApiKeyRow
from app.db.models import AuditRecord as AuditRow
from app.db.models import OperatorUser as OperatorUserRow


@strawberry.type(description="A member of an operator organisation.")
class OperatorUser:
    email: str
    role: str = strawberry.field(description="admin, technician or viewer.")
    organisation_id: int

    @classmethod
    def from_row(cls, row: OperatorUserRow) -> "OperatorUser":
        return cls(email=row.email, role=row.role.value, organisation_id=row.operator_id)


@strawberry.type(
    description="An operator login: send `accessToken` as `Authorization: Bearer "
    "<accessToken>`; log in again when it expires (no refresh tokens for operators)."
)
class OperatorAuthPayload:
    access_token: str
    access_token_expires_at: datetime
    user: OperatorUser


@strawberry.type(description="A partner API key as lists show it: never the secret.")
class ApiKey:
    prefix: str = strawberry.field(description="`ck_<prefix>`: how to name the key to revoke it.")
    name: str
    partner: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> "ApiKey":
        return cls(
            prefix=f"ck_{row.prefix}",
            name=row.name,
            partner=row.partner,
            scopes=list(row.scopes),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type(description="A new key. `key` is shown this once and never again: store it.")
class CreatedApiKey:
    key: str = strawberry.field(description="Send as `X-Api-Key: <key>` or `Bearer <key>`.")
    api_key: ApiKey


@strawberry.type(description="The key could not be made: the message names the bad value.")
class InvalidApiKeyInput:
    message: str


@strawberry.type(description="No key with this prefix in the caller's organisation.")
class ApiKeyNotFound:
    message: str


@strawberry.type(description="One operator or partner action.")
class AuditRecord:
    at: datetime
    actor: str = strawberry.field(description="operator-user:<id>, api-key:<id>, driver:<id>, cli")
    action: str
    target: str
    result: str = strawberry.field(description="OK, or why it did not happen.")
    detail: str | None = strawberry.field(description="JSON with the action's particulars.")

    @classmethod
    def from_row(cls, row: AuditRow) -> "AuditRecord":
        return cls(
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            result=row.result,
            detail=json.dumps(row.detail, sort_keys=True) if row.detail is not None else None,
        )


@strawberry.type(description="A page of audit records, newest first.")
class AuditRecordConnection(relay.Connection[AuditRecord]):  # type: ignore[type-var]
    pass


@strawberry.input
class AuditFilter:
    actions: list[str] | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
