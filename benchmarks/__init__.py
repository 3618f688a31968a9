"""Throughput and cost measurements; each prints the project's figure against a reference's."""
