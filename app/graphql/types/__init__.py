"""GraphQL object, input and enum types (OCPI 2.2.1 object model, camelCase fields)."""
