"""Shared test helpers: loopback servers and builders used by the conftest fixtures."""
