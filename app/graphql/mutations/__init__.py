"""Mutations, one per module with its input and result types; schema.py composes the root."""
