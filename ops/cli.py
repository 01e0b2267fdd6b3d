"""The `shopstream` command: the local stack, the whole system, and operational tools."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import version
from types import FrameType
from typing import Any

from ops import order_commands, order_trace
from ops.dead_letters import commands as dlq_commands
from ops.dead_letters.watch import watch
from shopstream.logs import configure_logging
from shopstream.settings import Settings, get_settings, settings_at_start
from stack import control
from stack.apps import Gateway
from stack.environment import use_local_stack
from stack.errors import StackError


def say(message: str) -> None:
    print(f"shopstream: {message}", flush=True)


def _stack_up(args: argparse.Namespace) -> int:
    settings = use_local_stack(get_settings())
    parts = control.select(settings, args.parts)
    asyncio.run(control.up(settings, parts, say))
    return 0


def _stack_down(args: argparse.Namespace) -> int:
    settings = get_settings()
    names = args.parts or control.names()
    control.down(control.select(settings, names), say)
    return 0


def _stack_status(args: argparse.Namespace) -> int:
    settings = use_local_stack(get_settings())
    names = args.parts or control.names()
    healthy = True
    listed: list[dict[str, Any]] = []
    for part, running, checks in asyncio.run(control.status(control.select(settings, names))):
        listed.append(
            {
                "part": part.name,
                "address": part.address,
                "running": running,
                "checks": [asdict(check) for check in checks] if running else [],
            }
        )
        if args.json:
            optional = control.APPLICATIONS + control.ON_DEMAND
            up = running and all(check.ok for check in checks)
            healthy = healthy and (up or (not running and part.name in control.names(optional)))
            continue
        if not running:
            print(f"{part.name:<9} stopped   {part.address}")
            optional = control.APPLICATIONS + control.ON_DEMAND
            healthy = healthy and part.name in control.names(optional)
            continue
        for check in checks:
            state = "healthy" if check.ok else "UNHEALTHY"
            print(
                f"{part.name:<9} {state:<9} {part.address}  [{check.name} "
                f"{check.latency_ms:.0f} ms: {check.detail}]"
            )
            healthy = healthy and check.ok
    if args.json:
        print(json.dumps(listed, indent=2))
    return 0 if healthy else 1


def _stack_logs(args: argparse.Namespace) -> int:
    settings = get_settings()
    parts = control.select(settings, [args.part] if args.part else control.names())
    paths = [str(part.log_path) for part in parts if part.log_path.exists()]
    if not paths:
        say("no logs yet; start the stack with `make run` or `shopstream stack up`")
        return 1
    tail = ["tail", "-n", str(args.lines), *(["-F"] if args.follow else []), *paths]
    os.execvp(tail[0], tail)  # noqa: S606 - hands the terminal over to tail


def _run(args: argparse.Namespace) -> int:
    """Everything up, in the foreground; Ctrl-C (or `make stop`) brings it all down."""
    settings = use_local_stack(get_settings())
    parts = control.select(settings, control.names(control.ALL_PARTS))
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    asyncio.run(control.up(settings, parts, say))
    gateway = next(part for part in parts if isinstance(part, Gateway))
    say(f"storefront  {gateway.address}/shop/")
    if settings.demo:
        _load_demo(settings, gateway.address)
    say(f"gateway     {gateway.address}/docs")
    say(f"readiness   {gateway.address}/readyz")
    say("logs        shopstream stack logs -f   (Ctrl-C here stops everything)")
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    status = 0
    while not stopping:
        if not any(part.is_running() for part in parts):
            say("everything was stopped (`make stop`)")
            return 0
        # A part that exits on its own (its pid file still there) takes the system down.
        if died := [part for part in parts if part.died()]:
            for part in died:
                say(f"{part.name} stopped unexpectedly; its log ends:\n{part.log_tail()}")
            status = 1
            break
        time.sleep(1)
    say("stopping")
    control.down(parts, say)
    return status


def _load_demo(settings: Settings, address: str) -> None:
    """The demo shop (api/demo.py), and how to sign in to it; a failure leaves the system up."""
    # Imported here: only `run` loads the demo, through the gateway's own services.
    from api.demo import load_demo

    # The services log as they would in the gateway; here only what needs attention shows.
    configure_logging("demo", "WARNING")
    try:
        loaded = asyncio.run(load_demo(settings))
    except Exception as error:  # the shop runs without its demo: say why
        say(f"demo shop   not loaded ({error!r}); SHOPSTREAM_DEMO=0 skips it")
        return
    demo = loaded.demo
    new = f" ({loaded.products_created} new)" if loaded.products_created else ""
    say(f"demo shop   {len(demo.products)} products{new}; sign in (email / password) as")
    say(f"  customer  {demo.customer.email} / {demo.customer.password}")
    say(
        f"  admin     {demo.admin.email} / {demo.admin.password}   admin page: {address}/shop/admin"
    )
    if loaded.stock_pending:
        say(f"demo shop   stock not counted yet: {', '.join(loaded.stock_pending)}")


def _stop(args: argparse.Namespace) -> int:
    settings = get_settings()
    control.down(control.select(settings, control.names()), say)
    return 0


def _ops_settings() -> Settings:
    """The settings of the operational commands (order, stock, dlq).

    In a deployed environment (SHOPSTREAM_ENVIRONMENT=production, as the image sets it) they
    talk to the real services with the default AWS credential chain (in EKS: the pod's IAM
    role through its ServiceAccount); only locally do they point at the local stack (moto's
    endpoint and its placeholder keys).
    """
    settings = get_settings()
    return settings if settings.is_deployed else use_local_stack(settings)


def _order_place(args: argparse.Namespace) -> int:
    settings = _ops_settings()
    try:
        lines = [order_commands.parse_line(text) for text in args.line]
    except ValueError as error:
        raise StackError(str(error)) from error
    order = order_commands.new_order(lines, args.card)
    changes = asyncio.run(order_commands.place_and_follow(settings, order, args.timeout))
    return 0 if changes else 1


def _order_refund_retry(args: argparse.Namespace) -> int:
    settings = _ops_settings()
    try:
        order = asyncio.run(
            order_commands.retry_refund(settings, args.order_id, args.reason, args.timeout, say)
        )
    except (LookupError, ValueError) as error:
        raise StackError(str(error)) from error
    if order is None:
        say(
            f"the refund is not settled within {args.timeout:.0f}s; "
            f"GET /orders/{args.order_id} shows it once it is"
        )
        return 1
    if order.refund_status == "failed":
        say(f"the refund failed again: {order.refund_failure_reason}")
        return 1
    say(f"refunded: {order.refunded_cents} {order.currency} in all")
    return 0


def _order_trace(args: argparse.Namespace) -> int:
    settings = _ops_settings()
    entries = asyncio.run(order_trace.order_history(settings, args.order_id))
    for line in order_trace.render(args.order_id, entries):
        print(line)
    return 0 if entries else 1


def _stock_set(args: argparse.Namespace) -> int:
    settings = _ops_settings()
    asyncio.run(order_commands.set_stock(settings, args.sku, args.on_hand))
    say(f"stock of {args.sku} set to {args.on_hand}")
    return 0


def _confirm(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # the terminal closed its input: no answer is no
        return False


def _dlq(args: argparse.Namespace) -> int:
    if args.verb == "purge" and not args.yes and not sys.stdin.isatty():
        # Nobody to answer the question: refuse before touching anything.
        raise StackError(
            f"purging {args.queue} asks for confirmation, and there is no terminal to ask on; "
            "pass --yes to purge without asking"
        )
    settings = _ops_settings()
    try:
        match args.verb:
            case "list" if args.json:
                summaries = asyncio.run(dlq_commands.list_all(settings, lambda line: None))
                print(json.dumps([asdict(summary) for summary in summaries], indent=2))
            case "list":
                asyncio.run(dlq_commands.list_all(settings, print))
            case "show":
                asyncio.run(dlq_commands.show(settings, args.queue, args.limit, print))
            case "redrive":
                asyncio.run(dlq_commands.redrive(settings, args.queue, print))
            case "purge":
                confirm = (lambda question: True) if args.yes else _confirm
                asyncio.run(dlq_commands.purge(settings, args.queue, confirm, print))
            case "watch":
                configure_logging("dlq-watch", settings.log_level)
                asyncio.run(watch(settings))
    except (LookupError, ValueError) as error:
        raise StackError(str(error)) from error
    return 0


_JSON_HELP = "print a JSON array, for scripts"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopstream", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('shopstream')}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the stack and the application, in the foreground")
    run.set_defaults(handler=_run)
    stop = commands.add_parser("stop", help="stop the application and the stack")
    stop.set_defaults(handler=_stop)

    stack = commands.add_parser("stack", help="the local stack of real Kafka, PostgreSQL, ...")
    verbs = stack.add_subparsers(dest="verb", required=True)
    part_names = control.names()
    for verb, handler, text in [
        ("up", _stack_up, "install what is missing and start (default: the infrastructure)"),
        ("down", _stack_down, "stop what `up` started (default: everything)"),
        ("status", _stack_status, "each part with its address and health"),
    ]:
        command = verbs.add_parser(verb, help=text)
        command.add_argument(
            "parts", nargs="*", metavar="PART", help=f"any of: {', '.join(part_names)}"
        )
        if verb == "status":
            command.add_argument("--json", action="store_true", help=_JSON_HELP)
        command.set_defaults(handler=handler)
    logs = verbs.add_parser("logs", help="show a part's log (default: all)")
    logs.add_argument("part", nargs="?", choices=part_names)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(handler=_stack_logs)

    order = commands.add_parser("order", help="drive the order saga without the storefront")
    order_verbs = order.add_subparsers(dest="verb", required=True)
    place = order_verbs.add_parser("place", help="place an order and follow its status")
    place.add_argument("--line", action="append", required=True, metavar="SKU:QTY:CENTS")
    place.add_argument("--card", default="tok_visa", help="a test card token, e.g. tok_visa")
    place.add_argument("--timeout", type=float, default=30.0)
    place.set_defaults(handler=_order_place)
    refund_retry = order_verbs.add_parser(
        "refund-retry",
        help="request an order's failed refund again and wait for its outcome",
    )
    refund_retry.add_argument("order_id")
    refund_retry.add_argument(
        "--reason", default="retried by an operator", help="why, for the order's timeline"
    )
    refund_retry.add_argument("--timeout", type=float, default=60.0)
    refund_retry.set_defaults(handler=_order_refund_retry)
    trace = order_verbs.add_parser(
        "trace", help="an order's path: each event, its timing and its trace id, from its history"
    )
    trace.add_argument("order_id", metavar="ORDER_ID")
    trace.set_defaults(handler=_order_trace)

    stock = commands.add_parser("stock", help="inventory commands")
    stock_verbs = stock.add_subparsers(dest="verb", required=True)
    set_ = stock_verbs.add_parser("set", help="set a SKU's units on hand (a stocktake)")
    set_.add_argument("sku")
    set_.add_argument("on_hand", type=int)
    set_.set_defaults(handler=_stock_set)

    dlq = commands.add_parser("dlq", help="dead letters: Kafka topic, SQS and AMQP queues")
    dlq_verbs = dlq.add_subparsers(dest="verb", required=True)
    listing = dlq_verbs.add_parser("list", help="every dead-letter queue, its count and oldest age")
    listing.add_argument("--json", action="store_true", help=_JSON_HELP)
    for verb, text in [
        ("show", "print dead letters with their reason and original bytes"),
        ("redrive", "send them back to where they came from, to be processed again"),
        ("purge", "remove them for good"),
    ]:
        command = dlq_verbs.add_parser(verb, help=text)
        command.add_argument("queue", help="a name as `dlq list` shows it, e.g. kafka/...")
        if verb == "show":
            command.add_argument("-n", "--limit", type=int, default=10)
        if verb == "purge":
            command.add_argument("--yes", action="store_true", help="do not ask")
    dlq_verbs.add_parser("watch", help="serve their depth and oldest age as Prometheus metrics")
    dlq.set_defaults(handler=_dlq)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Read once here, so that every command's get_settings() finds them read and valid.
    settings_at_start("shopstream")
    # Probes expect refusals while parts start, and report failures themselves.
    logging.basicConfig(level=logging.CRITICAL)
    try:
        return int(args.handler(args))
    except StackError as error:
        print(f"shopstream: error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
