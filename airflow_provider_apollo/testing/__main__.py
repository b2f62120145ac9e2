"""Run the Apollo emulator in the foreground: ``python -m airflow_provider_apollo.testing --port 8765 --seed 1000``."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from airflow_provider_apollo.testing.emulator import ApolloEmulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_apollo.testing",
        description="Serve a local, stateful Apollo.io API until SIGTERM or SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="number of contacts to seed at start"
    )
    parser.add_argument(
        "--seed-accounts", type=int, default=0, metavar="N", help="number of accounts to seed at start"
    )
    parser.add_argument(
        "--seed-deals",
        type=int,
        default=0,
        metavar="N",
        help="number of deals to seed at start, spread over the accounts",
    )
    parser.add_argument(
        "--random-seed", type=int, default=0, help="makes ids and seeded contacts deterministic"
    )
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument(
        "--oauth-token", action="append", default=[], help="a token accepted as Bearer (repeatable)"
    )
    parser.add_argument("--rate-limit-minute", type=int, default=None)
    parser.add_argument("--rate-limit-hour", type=int, default=None)
    parser.add_argument("--rate-limit-day", type=int, default=None)
    parser.add_argument("--time-scale", type=float, default=1.0, help="real seconds per emulated second")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument(
        "--reply-after", type=float, default=None, help="seconds until Approaching contacts reply"
    )
    parser.add_argument("--reply-fraction", type=float, default=0.5)
    parser.add_argument("--reply-stage", default="Replied")
    parser.add_argument(
        "--no-master-key",
        action="store_true",
        help="answer 403 on master-key endpoints (users search, enrolling in a sequence, usage stats)",
    )
    parser.add_argument(
        "--sequence-step-seconds",
        type=float,
        default=86_400.0,
        help="emulated seconds between a sequence's steps (times --time-scale in real seconds)",
    )
    parser.add_argument("--sequence-reply-fraction", type=float, default=0.3)
    parser.add_argument("--sequence-bounce-fraction", type=float, default=0.1)
    parser.add_argument(
        "--sequence-reply-classes",
        default=None,
        help="comma-separated reply classes automatic replies take in turn (default: a realistic mix)",
    )
    parser.add_argument(
        "--sequence-reply-step", type=int, default=None, help="the step every replier answers"
    )
    parser.add_argument("--pagination-as-strings", action="store_true")
    parser.add_argument("--legacy-day-headers", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emulator = ApolloEmulator(
        args.api_key,
        host=args.host,
        port=args.port,
        rate_limits={
            "minute": args.rate_limit_minute,
            "hour": args.rate_limit_hour,
            "day": args.rate_limit_day,
        },
        time_scale=args.time_scale,
        latency=args.latency,
        oauth_tokens=args.oauth_token,
        pagination_as_strings=args.pagination_as_strings,
        reply_after=args.reply_after,
        reply_fraction=args.reply_fraction,
        reply_stage=args.reply_stage,
        legacy_day_headers=args.legacy_day_headers,
        seed=args.random_seed,
        verbose=args.verbose,
        master_key=not args.no_master_key,
        sequence_step_seconds=args.sequence_step_seconds,
        sequence_reply_fraction=args.sequence_reply_fraction,
        sequence_bounce_fraction=args.sequence_bounce_fraction,
        sequence_reply_classes=None
        if args.sequence_reply_classes is None
        else [name.strip() for name in args.sequence_reply_classes.split(",") if name.strip()],
        sequence_reply_step=args.sequence_reply_step,
    )
    # Accounts first, so the deals can go to them; seeded contacts get their companies' own accounts.
    if args.seed_accounts:
        emulator.seed_accounts(args.seed_accounts)
    if args.seed:
        emulator.seed_contacts(args.seed)
    if args.seed_deals:
        emulator.seed_deals(args.seed_deals)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    emulator.start()
    print(f"Apollo emulator listening on {emulator.url}", flush=True)
    try:
        # A timed wait lets the main thread run the signal handlers promptly.
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
