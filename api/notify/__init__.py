"""Notifications out: the sender that delivers the outbox (api/storage/outbox.py) to webhooks
and Alertmanagers, off the request path. Rows are written by api/status/announce.py."""
