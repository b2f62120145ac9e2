"""Quotas (``core/quota.py``): the plan's estimate over many days, and an empty batch cursor.

To be merged into ``test_quota.py``.
"""

from __future__ import annotations

from airflow_provider_apollo.core.quota import BatchCursor, WindowUsage, describe_plan


def test_a_plan_over_many_days_counts_hours_exactly_and_an_empty_cursor_starts_at_zero() -> None:
    usage = {"day": WindowUsage(1000, 1000, 0)}
    assert describe_plan("all", 8000, "/contacts", usage).endswith(
        ": about 192.0 hours, waiting for quota resets in the triggerer"
    )
    assert BatchCursor.from_json({}) == BatchCursor(0, [], 0)
