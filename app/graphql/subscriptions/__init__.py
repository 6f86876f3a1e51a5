"""Subscription root fields, one module per area."""
