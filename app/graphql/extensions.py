"""Hardening extensions: rate limits, trusted documents, query limits and masked errors.

Each reads its limits from the request's settings, so they are configuration, not code; each
refuses with a GraphQL error whose `extensions.code` says which limit was hit.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache

from graphql import GraphQLError, Lexer, Source, TokenKind
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from starlette.responses import Response
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from app.domain.errors import DomainError
from app.graphql.trusted_documents import load_manifest, resolve_document
from app.settings import Settings

log = logging.getLogger(__name__)

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"


class RateLimit(SchemaExtension):
    """One token per operation (a query, a mutation, a subscription started) from the client
    address's bucket and, when authenticated, the principal's; empty -> RATE_LIMITED."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        limiter = context.rate_limiter
        if limiter is not None:
            client = context.request.client
            principal = context.principal
            limited = await limiter.check(
                ip=client.host if client is not None else None,
                # `actor` tells apart operators of the external identity provider too.
                principal=principal.actor if principal is not None else None,
            )
            if limited is not None:
                if isinstance(context.response, Response):  # plain HTTP: say it in HTTP too
                    context.response.status_code = 429
                    context.response.headers["Retry-After"] = str(limited.retry_after_whole_s)
                raise GraphQLError(
                    f"rate limit exceeded ({limited.budget} budget); "
                    f"retry after {limited.retry_after_whole_s} s",
                    extensions={
                        "code": "RATE_LIMITED",
                        "retryAfter": limited.retry_after_whole_s,
                    },
                )
        yield


class TrustedDocuments(SchemaExtension):
    """With GRAPHQL_TRUSTED_DOCUMENTS set, swap a document id for its registered text and
    refuse any document that is not registered."""

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        settings: Settings = execution.context.settings
        if settings.graphql_trusted_documents is not None:
            execution.query = resolve_document(
                load_manifest(settings.graphql_trusted_documents),
                query=execution.query,
                extensions=execution.operation_extensions,
            )
        yield


def count_tokens(document: str) -> int:
    """Tokens as GraphQL's parser counts them (punctuators, names, values; not comments)."""
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@lru_cache(maxsize=16)
def _validation_rules(
    max_depth: int, max_aliases: int, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


class QueryLimits(SchemaExtension):
    """Tokens (counted before parsing, so a huge document is refused without building its
    tree), depth, aliases and, when switched off, introspection."""

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        settings: Settings = execution.context.settings
        if execution.query is not None:
            try:
                tokens = count_tokens(execution.query)
            except GraphQLError:
                tokens = 0  # not even lexable: the parser reports the syntax error
            if tokens > settings.graphql_max_tokens:
                raise GraphQLError(
                    f"query has {tokens} tokens; the limit is {settings.graphql_max_tokens}",
                    extensions={"code": QUERY_TOO_COMPLEX},
                )
        execution.parse_options["max_tokens"] = settings.graphql_max_tokens
        execution.validation_rules = execution.validation_rules + _validation_rules(
            settings.graphql_max_depth,
            settings.graphql_max_aliases,
            settings.graphql_introspection,
        )
        yield


DOCUMENT_CACHE_SIZE = 256
"""Documents whose parse tree and validation errors are kept (LRU, shared by all requests):
clients send a handful of documents, and a caller sending unique ones evicts only old entries."""


def _parser_cache() -> ParserCache:
    return ParserCache(maxsize=DOCUMENT_CACHE_SIZE)


def _validation_cache() -> ValidationCache:
    return ValidationCache(maxsize=DOCUMENT_CACHE_SIZE)


DOCUMENT_CACHES = (_parser_cache, _validation_cache)
"""Parse and validation cached by document text (~3 ms of a station search). The key holds the
parse options and validation rules QueryLimits set before them, so every request still gets its
limits: a cached over-deep document gets its cached error; the token count runs before either."""


def should_mask(error: GraphQLError) -> bool:
    """Show GraphQL's own errors and DomainErrors (expected, with clear messages); mask the rest."""
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected errors reach the client as "Unexpected error." with code
    INTERNAL_SERVER_ERROR and a request id; the server log has the same id with the traceback."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask)

    def on_operation(self) -> Iterator[None]:
        self.request_id = uuid.uuid4().hex
        yield from super().on_operation()

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        log.error(
            "unexpected error, request %s, path %s",
            self.request_id,
            ".".join(str(part) for part in error.path or ()),
            exc_info=(type(original), original, original.__traceback__) if original else None,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": self.request_id}
        return masked
