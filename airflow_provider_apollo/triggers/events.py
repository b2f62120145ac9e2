"""ApolloContactStageEventTrigger: an ``AssetWatcher`` trigger that fires when contacts enter a stage."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_apollo.core import (
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    UPDATED_SORT_FIELD,
    match_stage,
    parse_timestamp,
    quota_reset_wait,
    stage_name,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloAuthError,
    ApolloRateLimitError,
)
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.triggers.quota import sleep_until

__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "DEFAULT_POLL_INTERVAL",
    "STATE_KEY_PREFIX",
    "ApolloContactStageEventTrigger",
    "StageWatch",
]

# Five minutes: twelve polls an hour, each usually one search request (see docs/airflow-native.md).
DEFAULT_POLL_INTERVAL = 300.0
# Each poll re-reads contacts updated this long before the watermark: Apollo's search index may
# show a change a little after its ``updated_at``. Re-reading is harmless (a contact fires only
# when its stage differs from the one last reported).
DEFAULT_OVERLAP_SECONDS = 120.0
# Key prefix of the watch's state in the watched asset's state store.
STATE_KEY_PREFIX = "apollo_contact_stage_watch"
STATE_VERSION = 1
# Waited after a 429 that says nothing of when the quota resets: an hourly window's length.
UNKNOWN_RESET_WAIT = 3600.0


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat()


@dataclass
class StageWatch:
    """
    The watch's memory, I/O-free: which contacts are known to be in a target stage, and how far
    the change log (contacts sorted by ``updated_at``) has been read.

    :param target_ids: the stage ids watched.
    :param watermark: the newest ``updated_at`` read so far (ISO 8601), ``None`` before the baseline.
    :param inside: contact id -> stage id of every contact known to be in a target stage.
    """

    target_ids: frozenset[str]
    watermark: str | None = None
    inside: dict[str, str] = field(default_factory=dict)

    @property
    def has_baseline(self) -> bool:
        return self.watermark is not None

    def set_baseline(self, contacts_inside: Iterable[dict[str, Any]], newest_updated_at: str | None) -> None:
        """Contacts already in a target stage when the watch starts: known, not reported."""
        self.inside = {
            str(contact["id"]): str(contact.get("contact_stage_id"))
            for contact in contacts_inside
            if contact.get("id") is not None and contact.get("contact_stage_id") in self.target_ids
        }
        newest = parse_timestamp(newest_updated_at)
        self.watermark = _iso(newest or datetime.datetime.now(datetime.timezone.utc))

    def cutoff(self, overlap_seconds: float) -> datetime.datetime:
        """Contacts updated before this moment were read by an earlier poll."""
        watermark = parse_timestamp(self.watermark)
        assert watermark is not None, "set_baseline() first"
        return watermark - datetime.timedelta(seconds=overlap_seconds)

    def observe(self, contact: dict[str, Any]) -> bool:
        """
        Take in one contact's current state; True when it entered a target stage since last seen.

        A contact in a target stage fires when it was not known inside or was inside another
        target stage; a contact seen outside every target stage is forgotten, so entering again
        later fires again. Seeing the same state twice changes nothing.
        """
        contact_id = contact.get("id")
        if contact_id is None:
            return False
        contact_id = str(contact_id)
        stage = contact.get("contact_stage_id")
        updated = parse_timestamp(contact.get("updated_at"))
        current = parse_timestamp(self.watermark)
        if updated is not None and current is not None and updated > current:
            self.watermark = _iso(updated)
        if stage in self.target_ids:
            if self.inside.get(contact_id) == stage:
                return False
            self.inside[contact_id] = str(stage)
            return True
        self.inside.pop(contact_id, None)
        return False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "target_ids": sorted(self.target_ids),
            "watermark": self.watermark,
            "inside": dict(self.inside),
        }

    @classmethod
    def from_json(cls, value: Any, target_ids: Iterable[str]) -> StageWatch:
        """The stored state, or a fresh watch (new baseline) when it is absent or for other stages."""
        targets = frozenset(target_ids)
        if (
            not isinstance(value, dict)
            or value.get("version") != STATE_VERSION
            or set(value.get("target_ids") or ()) != targets
            or not isinstance(value.get("watermark"), str)
            or not isinstance(value.get("inside"), dict)
        ):
            return cls(targets)
        inside = {str(k): str(v) for k, v in value["inside"].items() if v in targets}
        return cls(targets, watermark=value["watermark"], inside=inside)


class ApolloContactStageEventTrigger(BaseEventTrigger):
    """
    Fire when contacts enter one of ``stages``: an event trigger for Airflow's ``AssetWatcher``.

    Each poll reads Apollo's contacts newest-updated first (``sort_by_field=contact_updated_at``)
    down to the previous poll's watermark (less ``overlap_seconds``) and compares every contact's
    stage with what the watch knows. A contact whose stage became one of ``stages`` is reported
    once; one that merely stays there (or is updated in other ways) is not reported again, and
    one that leaves and comes back is reported again. At the first start the contacts already in
    a target stage are read once (``contact_stage_ids``) as the baseline and not reported.

    The watch's state (watermark and the ids known to be inside) is kept in the watched asset's
    state store (Airflow 3.3's ``asset_state_store``, a row of the metadata database), written
    after each poll, so a restarted triggerer carries on where the last poll ended without
    reporting a change twice. Watch one asset per trigger; without a state store (a trigger run
    outside the triggerer, or one watching several assets) the state lives in memory only.

    Quotas: a poll costs one search request per 100 contacts updated since the last poll (at
    least one), plus one stage-list request at start when ``stages`` holds names. An
    ``ApolloRateLimitError`` (an exhausted hourly or daily quota) pauses the watch until Apollo's
    ``retry-after`` has passed; nothing is lost, the next poll reads everything changed meanwhile.

    Event payload: ``{"contact_ids": [...], "contacts": [{"id", "contact_stage_id", "stage",
    "updated_at"}, ...], "stage_ids": [...], "watermark": ...}``. The asset event's ``extra`` holds
    it under ``payload``.

    :param stages: target stages, names (case-insensitive) or ids.
    :param apollo_conn_id: the Airflow connection id.
    :param poll_interval: seconds between polls (default 300).
    :param overlap_seconds: how far before the watermark each poll re-reads (default 120).
    :param event_per_contact: one event per contact instead of one event per poll.
    """

    def __init__(
        self,
        stages: Sequence[str] | str,
        apollo_conn_id: str = "apollo_default",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
        event_per_contact: bool = False,
    ) -> None:
        super().__init__()
        stage_list = [stages] if isinstance(stages, str) else list(stages or [])
        if not stage_list or not all(isinstance(s, str) and s.strip() for s in stage_list):
            raise ApolloArgumentError(
                f"stages must be a non-empty list of stage names or ids, got {stages!r}."
            )
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or poll_interval <= 0
        ):
            raise ApolloArgumentError(
                f"poll_interval must be a positive number of seconds, got {poll_interval!r}."
            )
        if (
            isinstance(overlap_seconds, bool)
            or not isinstance(overlap_seconds, (int, float))
            or overlap_seconds < 0
        ):
            raise ApolloArgumentError(f"overlap_seconds must be 0 or more seconds, got {overlap_seconds!r}.")
        if not isinstance(event_per_contact, bool):
            raise ApolloArgumentError(f"event_per_contact must be True or False, got {event_per_contact!r}.")
        self.stages = [s.strip() for s in stage_list]
        self.apollo_conn_id = apollo_conn_id
        self.poll_interval = float(poll_interval)
        self.overlap_seconds = float(overlap_seconds)
        self.event_per_contact = event_per_contact
        self._memory_state: Any = None
        self._store_warned = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "stages": list(self.stages),
                "apollo_conn_id": self.apollo_conn_id,
                "poll_interval": self.poll_interval,
                "overlap_seconds": self.overlap_seconds,
                "event_per_contact": self.event_per_contact,
            },
        )

    @property
    def state_key(self) -> str:
        """The state's key in the asset's store: one per connection and stage list."""
        identity = json.dumps(
            {"conn": self.apollo_conn_id, "stages": sorted(self.stages)}, sort_keys=True
        ).encode()
        return f"{STATE_KEY_PREFIX}:{hashlib.sha256(identity).hexdigest()[:16]}"

    # ------------------------------------------------------------------ state

    def _store(self) -> Any:
        store = getattr(self, "asset_state_store", None)
        if store is None and not self._store_warned:
            self.log.warning(
                "No asset state store (Airflow before 3.3 has none; from 3.3 the triggerer gives one to "
                "an AssetWatcher's trigger): the watch's state lives in memory and a restart takes a new "
                "baseline."
            )
            self._store_warned = True
        return store

    async def load_state(self) -> Any:
        store = self._store()
        if store is not None:
            try:
                return await store.aget(self.state_key, default=None)
            except ValueError:
                self._no_single_asset()
        return self._memory_state

    async def save_state(self, value: dict[str, Any]) -> None:
        self._memory_state = value
        store = self._store()
        if store is not None:
            try:
                # Shielded: a triggerer stopping mid-write still finishes the write it started.
                await asyncio.shield(store.aset(self.state_key, value))
            except ValueError:
                self._no_single_asset()

    def _no_single_asset(self) -> None:
        if not self._store_warned:
            self.log.warning(
                "This trigger watches several assets: its state cannot be kept in one asset's store "
                "and lives in memory. Give each AssetWatcher its own trigger to survive restarts."
            )
            self._store_warned = True
        self.asset_state_store = None

    # ------------------------------------------------------------------ polling

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with ApolloAsyncHook(self.apollo_conn_id) as hook:
            target_ids = await self._resolve_stages(hook)
            stages = await hook.list_contact_stages()
            watch = StageWatch.from_json(await self.load_state(), target_ids)
            if watch.has_baseline:
                self.log.info(
                    "Resuming the watch of %s from %s (%d contacts known inside)",
                    self._stage_names(stages, target_ids),
                    watch.watermark,
                    len(watch.inside),
                )
            while True:
                started = time.monotonic()
                try:
                    entered = await self.poll(hook, watch)
                except ApolloRateLimitError as error:
                    await self._wait_for_quota(error)
                    continue
                except (ApolloAuthError, ApolloArgumentError):
                    raise
                except ApolloApiError as error:
                    # Retries inside the hook were spent: try again next interval, state unchanged.
                    self.log.warning("Poll failed, retrying in %.0f s: %s", self.poll_interval, error)
                    await asyncio.sleep(self.poll_interval)
                    continue
                for payload in self._payloads(entered, watch, stages):
                    yield TriggerEvent(payload)
                # After the events are handed over: a restart between the two repeats this poll's
                # events (at least once) rather than losing them.
                await self.save_state(watch.to_json())
                await asyncio.sleep(max(0.0, self.poll_interval - (time.monotonic() - started)))

    async def poll(self, hook: ApolloAsyncHook, watch: StageWatch) -> list[dict[str, Any]]:
        """One poll: the contacts that entered a target stage (``watch`` updated in place)."""
        if not watch.has_baseline:
            await self._take_baseline(hook, watch)
            return []
        cutoff = watch.cutoff(self.overlap_seconds)
        candidate = StageWatch(watch.target_ids, watch.watermark, dict(watch.inside))
        entered: list[dict[str, Any]] = []
        read = 0
        async for contact in hook.search_contacts(
            {"sort_by_field": UPDATED_SORT_FIELD, "sort_ascending": False},
            per_page=SEARCH_PER_PAGE_MAX,
            max_records=SEARCH_RESULT_CAP,
        ):
            updated = parse_timestamp(contact.get("updated_at"))
            if updated is not None and updated < cutoff:
                break
            read += 1
            if candidate.observe(contact):
                entered.append(contact)
        # Committed only once the whole poll succeeded: a quota stop part-way changes nothing.
        watch.watermark, watch.inside = candidate.watermark, candidate.inside
        self.log.info(
            "Polled %d contacts updated since %s: %d entered a target stage (%d requests so far)",
            read,
            _iso(cutoff),
            len(entered),
            hook.request_count,
        )
        return entered

    async def _take_baseline(self, hook: ApolloAsyncHook, watch: StageWatch) -> None:
        inside = [
            contact
            async for contact in hook.search_contacts(
                {"contact_stage_ids": sorted(watch.target_ids)},
                per_page=SEARCH_PER_PAGE_MAX,
                max_records=SEARCH_RESULT_CAP,
            )
        ]
        newest = None
        async for contact in hook.search_contacts(
            {"sort_by_field": UPDATED_SORT_FIELD, "sort_ascending": False}, per_page=1, max_records=1
        ):
            newest = contact.get("updated_at")
        watch.set_baseline(inside, newest)
        self.log.info(
            "Baseline: %d contacts already in a target stage (not reported); changes after %s will be",
            len(watch.inside),
            watch.watermark,
        )

    async def _resolve_stages(self, hook: ApolloAsyncHook) -> list[str]:
        stages = await hook.list_contact_stages()
        return list(dict.fromkeys(match_stage(stages, stage) for stage in self.stages))

    async def _wait_for_quota(self, error: ApolloRateLimitError) -> None:
        reset = float(error.retry_after) if error.retry_after is not None else UNKNOWN_RESET_WAIT
        wait = max(quota_reset_wait(reset), self.poll_interval)
        self.log.warning("Apollo quota exhausted; the watch pauses %.0f s until it resets: %s", wait, error)
        await sleep_until(time.time() + wait)

    def _payloads(
        self, entered: list[dict[str, Any]], watch: StageWatch, stages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if not entered:
            return []
        described = [
            {
                "id": str(contact["id"]),
                "contact_stage_id": contact.get("contact_stage_id"),
                "stage": stage_name(stages, str(contact.get("contact_stage_id"))),
                "updated_at": contact.get("updated_at"),
            }
            for contact in entered
        ]
        groups = [[item] for item in described] if self.event_per_contact else [described]
        return [
            {
                "contact_ids": [item["id"] for item in group],
                "contacts": group,
                "stage_ids": sorted(watch.target_ids),
                "watermark": watch.watermark,
            }
            for group in groups
        ]

    @staticmethod
    def _stage_names(stages: list[dict[str, Any]], stage_ids: Iterable[str]) -> str:
        return ", ".join(repr(stage_name(stages, stage_id)) for stage_id in stage_ids)
