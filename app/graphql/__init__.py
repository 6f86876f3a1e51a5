"""The GraphQL API (Strawberry): queries, subscriptions and the ASGI app serving them."""
