"""Thin I/O shells around the engine: the orchestrator agent, the worker loop (Kafka runtime)."""
