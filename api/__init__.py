"""The Flask API and (later) the dashboard."""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
