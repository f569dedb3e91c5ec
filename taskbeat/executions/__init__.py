"""An execution's life after it is claimed: its outcome, the retry policy, the backoff.

- `lifecycle`: record a success or a failure, and add the next attempt;
- `backoff`: the retry spacing, a pure function.
"""
