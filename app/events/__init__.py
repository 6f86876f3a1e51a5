"""The event bus: services publish, subscriptions and background tasks listen.

Events are JSON-shaped dicts on string topics, so the in-process backend and a Redis backend
carry exactly the same thing. Topic names live in `app.events.topics`.
"""

from app.events.bus import EventBus, InProcessEventBus, Subscription


def create_event_bus(redis_url: str | None, *, key_prefix: str = "chargenet:") -> EventBus:
    """Redis pub/sub when `redis_url` is set (several instances), else in-process.

    Channels are named `<key_prefix>events:<topic>`: instances share events only with the
    instances that use the same prefix.
    """
    if redis_url:
        from app.events.redis_bus import RedisEventBus

        return RedisEventBus(redis_url, prefix=f"{key_prefix}events:")
    return InProcessEventBus()


__all__ = ["EventBus", "InProcessEventBus", "Subscription", "create_event_bus"]
