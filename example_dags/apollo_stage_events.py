"""Event-driven: a DAG that runs when contacts enter the "Replied" stage in Apollo.

An ``AssetWatcher`` runs ``ApolloContactStageEventTrigger`` in the triggerer; each contact that
enters the stage is reported once, in an asset event whose ``extra["payload"]["contact_ids"]``
lists them, and the DAG runs on those events.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_apollo.triggers.events import ApolloContactStageEventTrigger

# Five minutes by default: twelve polls an hour, one search request each (see the docs).
POLL_SECONDS = float(os.environ.get("APOLLO_STAGE_EVENTS_POLL_SECONDS", "300"))

# [START howto_stage_events]
REPLIED_CONTACTS = Asset(
    name="apollo_replied_contacts",
    watchers=[
        AssetWatcher(
            name="apollo_replied_watcher",
            trigger=ApolloContactStageEventTrigger(
                stages=["Replied"], apollo_conn_id="apollo_default", poll_interval=POLL_SECONDS
            ),
        )
    ],
)

with DAG(
    dag_id="apollo_on_replies",
    schedule=[REPLIED_CONTACTS],
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["apollo", "events"],
):

    @task
    def handle_replies(*, triggering_asset_events: Any = None) -> list[str]:
        # Events queued while the DAG was busy arrive together: take the ids of each.
        contact_ids = [
            contact_id
            for event in triggering_asset_events[REPLIED_CONTACTS]
            for contact_id in event.extra["payload"]["contact_ids"]
        ]
        print(f"{len(contact_ids)} contacts replied: {contact_ids}")
        return sorted(contact_ids)

    handle_replies()
# [END howto_stage_events]
