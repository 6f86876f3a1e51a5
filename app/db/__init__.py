"""Persistence: the async engine, sessions and SQLModel tables."""
