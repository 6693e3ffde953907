"""Webhook delivery: how fast one worker delivers, and that a receiver's outage loses nothing.

What runs, as in production: ``pbx.webhooks.emit.emit_many`` stores the messages and deliveries (as the event
bridge does for each batch), and ``pbx.webhooks.deliver.drain`` — the worker's job — claims, signs and POSTs
them over one keep-alive connection. The receiver is ``tests/webhook_receiver.Receiver`` in a process of its
own, verifying every signature with the ``standardwebhooks`` package.

- ``webhook_deliveries_per_s``: EVENTS events of CALLS calls (so in order per call: each round of the
  worker takes the head of each call's stream) to one endpoint, stored first, then drained by one worker;
  deliveries the receiver verified, divided by the drain's wall time.
- ``webhook_worker_cpu_ms_per_delivery``: the worker process's CPU time (every thread) in that drain, per
  delivery: the receiver runs in a process of its own on the same two cores.
- ``webhook_lost`` after OUTAGE seconds of the receiver down (real seconds, 60 by default): events keep coming
  at OUTAGE_RATE a second while a worker thread drains every 0.2 s; then the receiver comes back on the same
  port; the figure is the events emitted that the receiver never verified once everything was delivered
  (``webhook_outage_backlog_s``: from the receiver's return to the last delivery).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

from bench import setup_django, throwaway_database

EVENTS = int(os.environ.get("WEBHOOK_EVENTS", "5000"))
CALLS = int(os.environ.get("WEBHOOK_CALLS", "500"))
OUTAGE = float(os.environ.get("WEBHOOK_OUTAGE", "60"))
OUTAGE_RATE = float(os.environ.get("WEBHOOK_OUTAGE_RATE", "20"))


def _receiver_process(secret: str, conn) -> None:
    from tests.webhook_receiver import Receiver

    receiver = Receiver(secret)
    conn.send(receiver.port)
    while True:
        command = conn.recv()
        if command == "stop":
            receiver.stop()
            conn.send("stopped")
        elif command == "start":
            receiver.start()
            conn.send("started")
        elif command == "ids":
            conn.send((list(receiver.ids()), len(receiver.rejected)))
        elif command == "quit":
            receiver.stop()
            conn.send("bye")
            return


class ReceiverProcess:
    def __init__(self, secret: str):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_receiver_process, args=(secret, child), daemon=True)
        self.process.start()
        self.port = self.conn.recv()

    def ask(self, command: str):
        self.conn.send(command)
        return self.conn.recv()

    def close(self) -> None:
        self.ask("quit")
        self.process.join(5)


def _events(tenant_id: int, count: int, calls: int, offset: int = 0):
    from pbx.webhooks.emit import Event

    steps = ("call.started", "call.answered", "call.transferred", "call.ended")
    return [Event(tenant_id, steps[i % len(steps)], {"call_id": f"c{(offset + i) % calls}", "n": offset + i},
                  order_key=f"call:c{(offset + i) % calls}") for i in range(count)]


def run() -> dict[str, float]:
    setup_django()
    from django.db import close_old_connections
    from django.test.utils import override_settings

    from pbx.demo import build_company
    from pbx.webhooks import deliver
    from pbx.webhooks import emit as emit_module
    from pbx.webhooks.emit import emit_many, subscriptions
    from pbx.webhooks.models import WebhookDelivery, WebhookEndpoint

    # The worker is this benchmark's own drain (immediate mode would deliver inside emit_many's commit).
    emit_module.wake_worker = lambda: None
    figures: dict[str, float] = {}
    with throwaway_database(), override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"], WEBHOOK_ALLOW_HTTP=True,
                                                 WEBHOOK_TIMEOUT_SECONDS=5.0):
        company = build_company("Webhook AB", "webhook", 1)
        endpoint = WebhookEndpoint(tenant=company.tenant, url="http://placeholder.invalid/")
        receiver = ReceiverProcess(endpoint.secret)
        try:
            endpoint.url = f"http://127.0.0.1:{receiver.port}/hooks"
            endpoint.save()
            subscriptions.forget()
            tenant_id = company.tenant.pk

            # Throughput --------------------------------------------------------------------------------
            for start in range(0, EVENTS, 1000):
                emit_many(_events(tenant_id, min(1000, EVENTS - start), CALLS, start))
            started, cpu = time.perf_counter(), time.process_time()
            deliver.drain()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            ids, rejected = receiver.ask("ids")
            figures["webhook_deliveries_per_s"] = round(len(set(ids)) / seconds, 1)
            # The worker's own CPU (all its threads, not the receiver's process) per delivery: on this 2-core
            # machine the receiver takes the other core, so this is what a worker facing remote receivers costs.
            figures["webhook_worker_cpu_ms_per_delivery"] = round(cpu * 1000 / max(1, len(set(ids))), 3)
            figures["webhook_throughput_undelivered"] = EVENTS - len(set(ids))
            figures["webhook_rejected_signatures"] = rejected

            # Outage ------------------------------------------------------------------------------------
            WebhookDelivery.objects.all().delete()
            before = set(ids)
            emitted = 0
            stop = threading.Event()

            def worker():
                while not stop.is_set():
                    deliver.drain()
                    time.sleep(0.2)
                close_old_connections()

            thread = threading.Thread(target=worker, daemon=True)
            thread.start()
            receiver.ask("stop")
            began = time.monotonic()
            offset = EVENTS
            while time.monotonic() - began < OUTAGE:
                emit_many(_events(tenant_id, int(OUTAGE_RATE), 50, offset))
                offset += int(OUTAGE_RATE)
                emitted += int(OUTAGE_RATE)
                time.sleep(1.0)
            receiver.ask("start")
            back = time.monotonic()
            emit_many(_events(tenant_id, int(OUTAGE_RATE), 50, offset))  # traffic goes on after the outage
            emitted += int(OUTAGE_RATE)
            deadline = back + 120
            while WebhookDelivery.objects.filter(status="pending").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            backlog_s = time.monotonic() - back
            stop.set()
            thread.join(10)
            ids, rejected = receiver.ask("ids")
            got = set(ids) - before
            figures["webhook_lost"] = emitted - len(got)
            figures["webhook_outage_events"] = emitted
            figures["webhook_outage_backlog_s"] = round(backlog_s, 2)
            figures["webhook_outage_s"] = OUTAGE
        finally:
            receiver.close()
    return figures


if __name__ == "__main__":
    print(run())
