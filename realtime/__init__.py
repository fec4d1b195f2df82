"""Trigger.dev-compatible realtime for local runs: Electric shapes, v1 SSE streams, retrieve, cancel."""
