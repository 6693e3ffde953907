"""Webhooks: a company's own HTTPS endpoints told of its calls, queues, agents and presence.

Signed as the Standard Webhooks specification says, delivered at least once by the worker, in order per
call, retried for more than a day, never to the stack's own or private addresses. docs/webhooks.md.
"""
