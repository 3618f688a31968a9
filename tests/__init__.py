"""Test suite: unit tests (fast, in-process) and integration tests (real servers, subprocesses)."""
