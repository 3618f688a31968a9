"""Unit tests: in-process, small, fast."""
