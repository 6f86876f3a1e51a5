"""Operator access tokens carry organisation and role; what cannot be issued is refused."""

import jwt
import pytest

from app.domain.access import OperatorRole
from app.domain.errors import Unauthenticated
from app.services.auth import Principal, PrincipalKind, TokenService
from app.settings import Settings


def service() -> TokenService:
    return TokenService(Settings(_env_file=None, auth_jwt_secret="k" * 32))  # type: ignore[call-arg]


def test_an_operator_token_round_trips_organisation_and_role() -> None:
    tokens = service()
    principal = Principal(
        PrincipalKind.OPERATOR_USER, 7, operator_id=3, role=OperatorRole.TECHNICIAN
    )
    token, _ = tokens.issue(principal)
    assert tokens.verify(token) == principal
    assert principal.actor == "operator-user:7"
    assert principal.driver_id is None


def test_a_token_whose_claims_were_edited_is_refused() -> None:
    tokens = service()
    token, _ = tokens.issue(
        Principal(PrincipalKind.OPERATOR_USER, 7, operator_id=3, role=OperatorRole.VIEWER)
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims | {"role": "admin"}, "another-key-" * 3, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="not valid"):
        tokens.verify(forged)
    no_role = jwt.encode(claims | {"role": None}, "k" * 32, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="no organisation or role"):
        tokens.verify(no_role)


@pytest.mark.parametrize(
    "principal",
    [
        Principal(PrincipalKind.API_KEY, 1, scopes=frozenset({"locations:read"})),
        Principal(PrincipalKind.OPERATOR_USER, 0, 1, OperatorRole.ADMIN, external_subject="x"),
    ],
    ids=["api-key", "external-operator"],
)
def test_keys_and_external_operators_get_no_tokens_of_ours(principal: Principal) -> None:
    with pytest.raises(ValueError, match="no access tokens"):
        service().issue(principal)
