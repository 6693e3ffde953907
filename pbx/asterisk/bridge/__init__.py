"""The event bridge: Asterisk's AMI events → typed domain events → live state, call log, browsers.

- ``subscriptions``: the table of AMI events we listen to, each parsed once into ``domain`` types;
- ``calls`` (with ``model`` and ``records``): the call tracker, a small state machine per call;
- ``state``: live state per company (memory or Redis) and the console's snapshot;
- ``persist``: the call log and queue log; ``publish``: the one way events reach browsers;
- ``service``: per node, the AMI connection, resynchronisation and the consumer loop (``manage.py run_bridge``).
"""
