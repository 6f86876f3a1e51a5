"""Use cases: one unit of work each, called by the adapters (GraphQL, OCPP, ...)."""
