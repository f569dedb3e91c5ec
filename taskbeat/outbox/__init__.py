"""The outbox: execution rows are written first, and published after they commit.

- `relay`: the steps (lease, publish, mark, republish), written out at its top;
- `publisher`: putting messages on Redis (pipelined), and waking the schedulers;
- `messages`: what one message is, built once, in Celery's own protocol.
"""
