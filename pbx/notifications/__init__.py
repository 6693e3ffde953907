"""Notifications: e-mail and SMS to people, sent by the worker, every send recorded.

One entry point for every feature (``pbx.notifications.send``: ``send_email``, ``send_sms``): it stores a
``Notification`` row (queued) and hands its delivery to a huey job after the caller's transaction commits.
The job tries, records the attempt, and retries with backoff when the mail server or the SMS gateway
fails for a while; a refusal that will not change (a bad number, a wrong password) fails at once.

E-mail goes through Django's mail (SMTP in the stack, the console when embedded, locmem in tests); SMS
through one gateway (``gateways``): 46elks' HTTP API, or a log line in development.
"""
