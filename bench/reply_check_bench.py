"""Benchmark: the API calls one sequence-status check costs, by target, for 10,000 enrolled contacts.

10,000 contacts are enrolled in one sequence of the emulator; 5% of them (500) reply, with Apollo's
reply classes in turn. One check of each kind runs through the sync hook (the sensor's poke path)
and through the async hook (the trigger's path), and the calls each sent are counted from the
emulator's request log. Run: ``.venv/bin/python bench/reply_check_bench.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, prepare_environment  # noqa: E402

prepare_environment()

from airflow_provider_apollo.core import arun_steps, run_steps, sequence_check  # noqa: E402
from airflow_provider_apollo.core.sequence_check import REPLY_CLASSES  # noqa: E402
from airflow_provider_apollo.testing import ApolloEmulator  # noqa: E402

ENROLLED = 10_000
REPLY_SHARE = 0.05
SEQUENCE = "Outbound - Data leaders"
CHECKS = (
    ("replied (every class)", ["replied"], None),
    ("replied (willing_to_meet only)", ["replied"], ["willing_to_meet"]),
    ("replied or finished", ["replied", "finished"], None),
)


def main() -> int:
    import os

    from airflow_provider_apollo.hooks.apollo import ApolloHook
    from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook

    with ApolloEmulator(sequence_step_seconds=None, seed=5) as emulator:
        ids = emulator.seed_contacts(ENROLLED)
        os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = (
            f'{{"conn_type": "apollo", "password": "{emulator.api_key}", "host": "{emulator.url}"}}'
        )
        hook = ApolloHook()
        mailbox = emulator.email_accounts[0]["email"]
        enrolled = hook.add_to_sequence(SEQUENCE, ids, mailbox=mailbox, sequence_unverified_email=True)
        repliers = enrolled.enrolled[:: int(1 / REPLY_SHARE)]
        emulator.reply_in_sequence(
            {cid: REPLY_CLASSES[i % len(REPLY_CLASSES)] for i, cid in enumerate(repliers)}, SEQUENCE
        )
        sequence_id = emulator.sequence_id(SEQUENCE)
        rows = []
        for label, targets, classes in CHECKS:
            for path in ("poke (sync hook)", "trigger (async hook)"):
                before = len(emulator.requests)
                started = time.perf_counter()
                check = sequence_check(enrolled.enrolled, sequence_id, targets, classes)
                if path.startswith("poke"):
                    result = run_steps(check, hook.call)
                else:

                    async def run(steps: object = check) -> object:
                        async with ApolloAsyncHook() as async_hook:
                            return await arun_steps(steps, async_hook.call)  # type: ignore[arg-type]

                    result = asyncio.run(run())
                seconds = time.perf_counter() - started
                sent = Counter(
                    f"{r.method} {r.path.split('/api/v1')[-1].split('/')[1]}"
                    for r in emulator.requests[before:]
                )
                rows.append(
                    {
                        "targets": label,
                        "path": path,
                        "calls": sum(sent.values()),
                        "by endpoint": ", ".join(f"{n:,} {k}" for k, n in sorted(sent.items())),
                        "reported": sum(len(v) for v in result.reached.values()),  # type: ignore[attr-defined]
                        "seconds": round(seconds, 2),
                    }
                )
        print(
            f"One sequence check, {len(enrolled.enrolled):,} enrolled contacts, {len(repliers)} replied "
            f"({REPLY_SHARE:.0%}), emulator on loopback:\n"
        )
        print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
