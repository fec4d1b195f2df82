"""Test support that stands in for systems outside the service (Trigger.dev's platform, its worker)."""
