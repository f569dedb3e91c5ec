"""taskbeat's benchmarks: each figure beside its baseline, measured in the same run.

`python -m bench` runs them all and prints one table; `--smoke` runs them at tiny sizes
(the test suite does, so the code cannot rot); `--only e2e,dispatch` picks some.

- `e2e`: no-op runs due at once, drained through scheduler, workers and history,
  against bare Celery draining as many no-op messages with the same pool;
- `dispatch`: due slots written, published and marked per second, against bare
  `send_task` and against redis-py's pipelined LPUSH (the physical limit);
- `lag`: slot to handler start at a steady rate, runs falling due together;
- `api`: pages of the history with a million executions, served by `taskbeat api`;
- `memory`: the scheduler's peak RSS with a million tasks, a worker's RSS over many runs;
- `wakeup`: an idle scheduler wake-up at growing table sizes.

Each creates what it needs in the bench's own PostgreSQL database and Redis server
(`env`), removed afterwards. Never part of the pass/fail test run: figures, not asserts.
"""
