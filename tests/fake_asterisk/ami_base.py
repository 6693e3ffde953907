"""Response helpers and the action registry of the fake AMI server (manager.c's astman_send_* family)."""

from __future__ import annotations

from collections.abc import Callable

from .wire import Headers, Request

# action name (lower case) -> handler(server, session, request) -> list[Headers] | awaitable of it
ACTIONS: dict[str, Callable] = {}


def action(*names: str):
    def register(func):
        for name in names:
            ACTIONS[name.lower()] = func
        return func

    return register


def _head(req: Request, response: str) -> Headers:
    h: Headers = [("Response", response)]
    if req.action_id:
        h.append(("ActionID", req.action_id))
    return h


def ack(req: Request, message: str | None = None, *extra: tuple[str, str]) -> Headers:
    """astman_send_ack (with a Message) or astman_start_ack + appended headers (message None)."""
    h = _head(req, "Success")
    if message is not None:
        h.append(("Message", message))
    h.extend(extra)
    return h


def error(req: Request, message: str, *extra: tuple[str, str]) -> Headers:
    h = _head(req, "Error")
    h.append(("Message", message))
    h.extend(extra)
    return h


def goodbye(req: Request) -> Headers:
    return _head(req, "Goodbye") + [("Message", "Thanks for all the fish.")]


def listack(req: Request, message: str) -> Headers:
    return _head(req, "Success") + [("EventList", "start"), ("Message", message)]


def list_complete(req: Request, event_name: str, count: int, *extra: tuple[str, str]) -> Headers:
    h: Headers = [("Event", event_name)]
    if req.action_id:
        h.append(("ActionID", req.action_id))
    h += [("EventList", "Complete"), ("ListItems", str(count))]
    h.extend(extra)
    return h


def id_first(req: Request, event_name: str, *fields: tuple[str, str]) -> Headers:
    """List item with ActionID right after Event (CoreShowChannel, BridgeListItem, ExtensionStatus...)."""
    h: Headers = [("Event", event_name)]
    if req.action_id:
        h.append(("ActionID", req.action_id))
    h.extend(fields)
    return h


def id_last(req: Request, event_name: str, *fields: tuple[str, str]) -> Headers:
    """List item with ActionID as the last header (QueueMember, QueueParams, DBGetResponse...)."""
    h: Headers = [("Event", event_name), *fields]
    if req.action_id:
        h.append(("ActionID", req.action_id))
    return h


def listing(req: Request, message: str, complete_event: str, items: list[Headers],
            *extra: tuple[str, str]) -> list[Headers]:
    return [listack(req, message), *items, list_complete(req, complete_event, len(items), *extra)]
