"""The event bus: services publish, subscriptions and background tasks listen.

Events are JSON-shaped dicts on string topics, so the in-process backend and a Redis backend
carry exactly the same thing. Topic names live in `app.events.topics`.
"""

from app.events.bus import EventBus, InProcessEventBus, Subscription


def create_event_bus(redis_url: str | None) -> EventBus:
    """Redis pub/sub when `redis_url` is set (several instances), else in-process."""
    if redis_url:
        from app.events.redis_bus import RedisEventBus

        return RedisEventBus(redis_url)
    return InProcessEventBus()


__all__ = ["EventBus", "InProcessEventBus", "Subscription", "create_event_bus"]
