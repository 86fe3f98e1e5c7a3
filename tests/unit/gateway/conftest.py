"""The in-memory gateway fixture (`env`, defined in test_app.py) for every gateway test module."""

from tests.unit.gateway.test_app import env  # noqa: F401
