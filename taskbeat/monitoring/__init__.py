"""What the Redis side of a deployment says about itself, for health, metrics and the
dashboard (the database side is `taskbeat.store.stats`).

- `beacons`: each scheduler process's heartbeat, a Redis key with a time to live;
- `fleet`: queue depths, and the workers online (Celery's inspect, cached briefly).
"""
