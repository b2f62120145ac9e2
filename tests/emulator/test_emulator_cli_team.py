"""The command line's team options: a non-master key and sequence progress."""

from __future__ import annotations

import subprocess
import sys
import time

import requests


def test_cli_no_master_key_and_sequence_step_options() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_apollo.testing",
            "--port",
            "0",
            "--seed",
            "3",
            "--no-master-key",
            "--sequence-step-seconds",
            "0.05",
            "--sequence-reply-fraction",
            "1",
            "--sequence-bounce-fraction",
            "0",
            "--sequence-reply-classes",
            "unsubscribe",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        headers = {"x-api-key": "test-key"}
        assert requests.get(f"{url}/users/search", headers=headers, timeout=5).status_code == 403
        sequences = requests.post(f"{url}/emailer_campaigns/search", headers=headers, timeout=5).json()
        assert len(sequences["emailer_campaigns"]) == 5
        assert requests.get(f"{url}/labels", headers=headers, timeout=5).status_code == 200
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_sequence_progress_is_time_scaled() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_apollo.testing",
            "--port",
            "0",
            "--seed",
            "2",
            "--time-scale",
            "0.01",
            "--sequence-step-seconds",
            "5",
            "--sequence-reply-fraction",
            "1",
            "--sequence-bounce-fraction",
            "0",
            "--sequence-reply-classes",
            "unsubscribe",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        api = requests.Session()
        api.headers["x-api-key"] = "test-key"
        ids = [c["id"] for c in api.post(f"{url}/contacts/search", json={}).json()["contacts"]]
        sequence = api.post(f"{url}/emailer_campaigns/search", json={"q_name": "Inbound"}).json()
        sequence_id = sequence["emailer_campaigns"][0]["id"]
        mailbox = api.get(f"{url}/email_accounts").json()["email_accounts"][0]["id"]
        added = api.post(
            f"{url}/emailer_campaigns/{sequence_id}/add_contact_ids",
            json={"contact_ids": ids, "send_email_from_email_account_id": mailbox},
        ).json()
        assert len(added["contacts"]) == 2
        deadline = time.monotonic() + 5
        replied: list[str] = []
        while time.monotonic() < deadline and len(replied) < 2:
            time.sleep(0.05)
            messages = api.get(
                f"{url}/emailer_messages/search",
                params={
                    "emailer_campaign_ids[]": sequence_id,
                    "emailer_message_reply_classes[]": "unsubscribe",
                },
            ).json()["emailer_messages"]
            replied = [
                m["contact_id"] for m in messages if m["replied"] and m["reply_class"] == "unsubscribe"
            ]
        assert sorted(replied) == sorted(ids)
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
