"""Ingestion smoke suite: the fake upstreams as a real process, the real clock, the real client."""
