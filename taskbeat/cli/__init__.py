"""The `taskbeat` command line: the core's commands, and the entry points of the others.

- `main`: the command group, `db` and `keys`;
- `dev`: `taskbeat dev`, a supervisor that runs the whole system on a laptop.

Nothing in the domain imports this package.
"""
