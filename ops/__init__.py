"""Observability: structured logs, Prometheus metrics, optional OpenTelemetry traces, health."""
