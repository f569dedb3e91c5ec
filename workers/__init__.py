"""The Celery side: one task, `run_execution`, that claims, runs and records an execution."""
