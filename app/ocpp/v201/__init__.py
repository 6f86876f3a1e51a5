"""OCPP 2.0.1: handlers and the mapping between 2.0.1 messages and domain data."""
