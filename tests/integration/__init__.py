"""Integration tests: real servers and subprocesses on loopback."""
