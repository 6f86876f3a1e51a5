"""Serviceability adapters: the health monitor task and the Prometheus /metrics route."""
