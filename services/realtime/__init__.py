"""Trigger.dev's realtime protocol for local runs: who may read or cancel a run (``access``), the
Electric shape and the v1 SSE stream (``feed``, ``shape``), ``runs.retrieve`` and cancel
(``control``, ``retrieve``). The HTTP routes are in ``api/controllers/realtime.py``."""
