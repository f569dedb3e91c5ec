"""Task definitions and what happens to them.

- `fields`: a task's fields, described once (validation, copying, JSON shape);
- `state`: a task's stored state and the one table of its moves;
- `slots`: its schedule within start_at, end_at and max_runs;
- `operations`: create, update, pause, resume, reset, run now, delete.
"""
