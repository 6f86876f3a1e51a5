"""OCPP 1.6J: handlers and the mapping between 1.6 messages and domain data."""
