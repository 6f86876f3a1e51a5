"""ID token uids: one canonical form, so lookups can use the unique index."""


def canonical_uid(uid: str) -> str:
    """The stored form of a token uid. OCPP compares idTags case-insensitively and chargers
    send them in any case; chargenet stores and looks them up upper-cased and trimmed."""
    return uid.strip().upper()
