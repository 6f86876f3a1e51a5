"""The event bus: services publish, subscriptions and background tasks listen.

Events are JSON-shaped dicts on string topics, so the in-process backend and a Redis backend
carry exactly the same thing. Topic names live in `app.events.topics`.
"""

from app.events.bus import EventBus, InProcessEventBus, Subscription

__all__ = ["EventBus", "InProcessEventBus", "Subscription"]
