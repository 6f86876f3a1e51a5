"""Trusted documents: a manifest {sha256: document} of the only GraphQL documents that may run.

First-party apps register their documents at build time and send only the hash (Apollo's
`extensions.persistedQuery.sha256Hash` or the GraphQL-over-HTTP `documentId`). With
`GRAPHQL_TRUSTED_DOCUMENTS` set, a document runs only if it is in the manifest: sent by hash, or
sent as text identical to a registered one (WebSocket clients send text). Anything else is refused.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import GraphQLError

TRUSTED_DOCUMENTS_CODE = "PERSISTED_QUERY_NOT_FOUND"


class ManifestError(ValueError):
    """The manifest file cannot be used; the message names the file and the entry."""


def document_hash(document: str) -> str:
    """The lowercase hex SHA-256 of the document's UTF-8 text, exactly as sent."""
    return hashlib.sha256(document.encode()).hexdigest()


def build_manifest(documents: Iterable[str]) -> dict[str, str]:
    return {document_hash(document): document for document in documents}


@lru_cache(maxsize=4)
def load_manifest(path: str) -> Mapping[str, str]:
    """Read and check a manifest: every key must be the SHA-256 of its document."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"trusted documents manifest {path}: cannot read it ({exc})") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"trusted documents manifest {path}: expected a JSON object")
    for key, document in data.items():
        if not isinstance(document, str) or document_hash(document) != key.lower():
            raise ManifestError(
                f"trusted documents manifest {path}: entry {key!r} is not the SHA-256 "
                "of its document"
            )
    return {key.lower(): document for key, document in data.items()}


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The document id a request names, from `persistedQuery.sha256Hash` or `documentId`."""
    if not extensions:
        return None
    persisted = extensions.get("persistedQuery")
    value = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    value = value if value is not None else extensions.get("documentId")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _refused(f"document id {value!r} must be a string")
    prefix, _, digest = value.rpartition(":")
    if prefix not in ("", "sha256"):
        raise _refused(f"document id {value!r}: only sha256 ids are known")
    return digest.lower()


def resolve_document(
    manifest: Mapping[str, str], *, query: str | None, extensions: Mapping[str, Any] | None
) -> str:
    """The registered document to run for this request, or a GraphQLError saying why none."""
    wanted = requested_hash(extensions)
    if query is not None:
        digest = document_hash(query)
        if wanted is not None and wanted != digest:
            raise _refused(f"document id sha256:{wanted} does not match the document sent")
        if digest not in manifest:
            raise _refused(
                f"only registered documents run on this server; document sha256:{digest} "
                "is not registered"
            )
        return query
    if wanted is None:
        raise _refused("send a registered document's id (extensions.persistedQuery.sha256Hash)")
    document = manifest.get(wanted)
    if document is None:
        raise _refused(f"document id sha256:{wanted} is not registered")
    return document


def _refused(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TRUSTED_DOCUMENTS_CODE})
