"""Failure alerts: webhooks called when a slot fails for the last time, and when its
task succeeds again.

- `notices`: what a notice says, built where the outcome is recorded (worker, sweeper);
- `targets`: where a notice may go (http(s) to a host on the allow-list, nothing else);
- `sender`: the scheduler's sender thread: lease due deliveries, POST them signed with
  HMAC-SHA256, record the answer, retry with backoff.

A notice is a row (`alert_deliveries`) written in the transaction that saw the outcome,
so nothing is sent from a request and nothing is lost when a sender dies mid-way.
"""
