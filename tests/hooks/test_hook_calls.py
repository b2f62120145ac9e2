"""
What each ApolloHook method sends and hands back, checked against the emulator's state.

The operator tests reach these methods through an operator, with the arguments an operator
passes. These pin what the hook itself promises: the argument an error names, the rate-limit
window each call counts against, resumed batches (``start_batch``) and progress callbacks
(``on_batch``), the enrollment options Apollo receives, and how the answers are read back.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_apollo.core import (
    PATH_BULK_CREATE,
    PATH_BULK_UPDATE,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
)
from airflow_provider_apollo.core.endpoints import (
    PATH_CONTACT,
    PATH_CONTACTS,
    PATH_EMAIL_ACCOUNTS,
    PATH_SEQUENCE_ADD,
)
from airflow_provider_apollo.core.sequences import NOT_REPORTED
from airflow_provider_apollo.exceptions import (
    ApolloArgumentError,
    ApolloAuthError,
    ApolloServerError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator

KEY = "hook-calls-KEY-0b7e4d19"
GUARDED_KEYS = {KEY}
SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
GRACE = "grace.hopper@emulated-team.example"


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    # Sequences never advance on their own: statuses are what the test makes them.
    with ApolloEmulator(api_key=KEY, sequence_step_seconds=None) as emulator:
        connection = {"conn_type": "apollo", "password": KEY, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        yield emulator


def people(n: int, prefix: str = "p") -> list[dict[str, Any]]:
    return [
        {"first_name": f"{prefix}{i}", "last_name": "Test", "email": f"{prefix}{i}@example.com"}
        for i in range(n)
    ]


def created(n: int, prefix: str = "p") -> list[str]:
    return [contact["id"] for contact in ApolloHook().bulk_create_contacts(people(n, prefix))]


def sent(emulator: ApolloEmulator, path: str, method: str = "POST") -> list[Any]:
    """The requests Apollo received on ``path`` (exactly), in order."""
    return [r for r in emulator.requests if r.method == method and r.path.endswith(f"/api/v1{path}")]


# ------------------------------------------------------------------ the window each call counts against

CALLS: list[tuple[str, Callable[[ApolloHook, str], Any], str, str]] = [
    ("create_contact", lambda hook, _: hook.create_contact({"first_name": "Ada"}), "POST", PATH_CONTACTS),
    ("bulk_create", lambda hook, _: hook.bulk_create_contacts(people(2)), "POST", PATH_BULK_CREATE),
    ("update_contact", lambda hook, cid: hook.update_contact(cid, {"title": "CTO"}), "PATCH", PATH_CONTACT),
    ("get_contact", lambda hook, cid: hook.get_contact(cid), "GET", PATH_CONTACT),
    (
        "owners",
        lambda hook, cid: hook.update_contact_owners([cid], hook.list_users()[1]["id"]),
        "POST",
        PATH_UPDATE_OWNERS,
    ),
    ("stages", lambda hook, cid: hook.update_contact_stages([cid], "Replied"), "POST", PATH_UPDATE_STAGES),
]


@pytest.mark.parametrize(("call", "method", "endpoint"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_each_call_counts_against_its_endpoints_window(
    team: ApolloEmulator, call: Callable[[ApolloHook, str], Any], method: str, endpoint: str
) -> None:
    """Pacing is per endpoint: the usage Apollo reported must be filed under the call's own window."""
    (contact_id,) = team.seed_contacts(1)
    hook = ApolloHook()
    call(hook, contact_id)
    usage = hook.quota_usage(endpoint, method)
    assert (
        usage["minute"].used == team.request_count(endpoint.replace("{contact_id}", contact_id), method) > 0
    )


# ------------------------------------------------------------------ bad arguments, named, before any request

BAD_CALLS: list[tuple[str, Callable[[ApolloHook], Any], str]] = [
    ("get_contact", lambda hook: hook.get_contact(" "), r"^contact_id must contain non-empty strings"),
    ("update_contact", lambda hook: hook.update_contact("", {"title": "x"}), r"^contact_id must contain"),
    ("create_contact", lambda hook: hook.create_contact({}), r"^contact must be a non-empty dict"),
    (
        "owners",
        lambda hook: hook.update_contact_owners(["a"], " "),
        r"^owner_id must be a non-empty string \(an Apollo user id or the user's email\), got ' '\.$",
    ),
    (
        "enroll status",
        lambda hook: hook.add_to_sequence(SEQUENCE, ["a"], mailbox=MAILBOX, status="running"),
        r"^status must be 'active' or 'paused', got 'running'\.$",
    ),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_a_bad_argument_is_named_before_any_request(
    team: ApolloEmulator, call: Callable[[ApolloHook], Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        call(ApolloHook())
    assert team.request_count() == 0


def test_good_enrollment_statuses_pass_the_check(team: ApolloEmulator) -> None:
    (active, paused) = created(2)
    hook = ApolloHook()
    assert hook.add_to_sequence(SEQUENCE, [active], mailbox=MAILBOX, status="active").enrolled == [active]
    assert hook.add_to_sequence(SEQUENCE, [paused], mailbox=MAILBOX, status="paused").enrolled == [paused]


# ------------------------------------------------------------------ bulk create


def test_bulk_create_resumes_at_start_batch_and_reports_each_batch(team: ApolloEmulator) -> None:
    inputs = people(250)
    progress: list[tuple[int, list[str]]] = []
    out = ApolloHook().bulk_create_contacts(
        inputs,
        start_batch=1,
        on_batch=lambda index, batch: progress.append((index, [c["email"] for c in batch])),
    )
    emails = [person["email"] for person in inputs]
    assert [contact["email"] for contact in out] == emails[100:]
    assert progress == [(1, emails[100:200]), (2, emails[200:])]
    assert team.contact_count == 150
    bodies = [json.loads(r.raw_body) for r in sent(team, PATH_BULK_CREATE)]
    assert [len(body["contacts"]) for body in bodies] == [100, 50]
    assert {body["run_dedupe"] for body in bodies} == {False}, "dedupe is off unless asked for"


def test_bulk_create_with_dedupe_is_retried_after_a_5xx(team: ApolloEmulator) -> None:
    team.add_fault("status", status=503, path=PATH_BULK_CREATE)
    out = ApolloHook().bulk_create_contacts(people(3), run_dedupe=True)
    assert len(out) == 3
    assert [json.loads(r.raw_body)["run_dedupe"] for r in sent(team, PATH_BULK_CREATE)] == [True, True]
    assert team.contact_count == 3


def test_bulk_create_without_dedupe_is_not_retried_after_a_5xx(team: ApolloEmulator) -> None:
    """The 5xx was applied: a retry without dedupe would create every contact of the batch twice."""
    team.add_fault("status_after_apply", status=503, path=PATH_BULK_CREATE)
    with pytest.raises(ApolloServerError) as raised:
        ApolloHook().bulk_create_contacts(people(3))
    assert raised.value.status_code == 503
    assert len(sent(team, PATH_BULK_CREATE)) == 1
    assert team.contact_count == 3


# ------------------------------------------------------------------ owners


def test_owner_update_stops_at_a_deleted_contact_unless_told_to_skip(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(3)
    team.delete_contacts(ids[1])
    hook = ApolloHook()
    owner = hook.list_users()[1]["id"]
    before = {i: team.contacts[i]["owner_id"] for i in (ids[0], ids[2])}
    with pytest.raises(ApolloValidationError) as raised:
        hook.update_contact_owners(ids, owner)
    assert raised.value.deleted_contact_ids == [ids[1]]
    assert {i: team.contacts[i]["owner_id"] for i in (ids[0], ids[2])} == before, "nothing was changed"

    progress: list[tuple[int, list[str], list[str]]] = []
    result = hook.update_contact_owners(
        ids,
        owner,
        skip_deleted=True,
        on_batch=lambda i, done: progress.append((i, [c["id"] for c in done], done.skipped_deleted_ids)),
    )
    assert [c["id"] for c in result] == [ids[0], ids[2]]
    assert result.skipped_deleted_ids == [ids[1]]
    assert progress == [(0, [ids[0], ids[2]], [ids[1]])]
    assert all(team.contacts[i]["owner_id"] == owner for i in (ids[0], ids[2]))


def test_owner_update_resumes_at_start_batch(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(150)
    hook = ApolloHook()
    owner = hook.list_users()[1]["id"]
    before = {i: team.contacts[i]["owner_id"] for i in ids}
    result = hook.update_contact_owners(ids, owner, start_batch=1)
    assert [c["id"] for c in result] == ids[100:]
    after = team.contacts
    assert [after[i]["owner_id"] for i in ids] == [before[i] for i in ids[:100]] + [owner] * 50
    assert len(sent(team, PATH_UPDATE_OWNERS)) == 1


# ------------------------------------------------------------------ sequences and mailboxes


def test_a_sequence_name_is_looked_up_once_whatever_its_padding(team: ApolloEmulator) -> None:
    team.add_sequence("Renewal nudge")
    hook = ApolloHook()
    first = hook.find_sequence(SEQUENCE)
    assert hook.find_sequence(f"  {SEQUENCE} ") == first
    assert hook.find_sequence("Renewal nudge").name == "Renewal nudge"
    assert first.name == SEQUENCE
    assert team.request_count("/emailer_campaigns/search") == 2


def test_a_sequence_that_is_not_a_string_is_refused_by_name(team: ApolloEmulator) -> None:
    with pytest.raises(ApolloArgumentError, match="sequence"):
        ApolloHook().find_sequence(None)  # type: ignore[arg-type]
    assert team.request_count() == 0


def test_mailboxes_are_listed_once_per_hook(team: ApolloEmulator) -> None:
    hook = ApolloHook()
    first = hook.list_email_accounts()
    assert hook.list_email_accounts() == first
    assert MAILBOX in {account["email"] for account in first}
    assert len(sent(team, PATH_EMAIL_ACCOUNTS, "GET")) == 1


# ------------------------------------------------------------------ enrollment


def test_enrollment_options_reach_apollo(team: ApolloEmulator) -> None:
    (contact_id,) = created(1)
    hook = ApolloHook()
    grace = hook.list_users()[1]["id"]
    hook.add_to_sequence(
        SEQUENCE,
        [contact_id],
        mailbox=MAILBOX,
        status="paused",
        auto_unpause_at="2030-01-02T03:04:05Z",
        user_id=grace,
    )
    sequence_id = team.sequence_id(SEQUENCE)
    status = team.sequence_statuses(contact_id)[sequence_id]
    assert status["status"] == "paused"
    assert status["added_by_user_id"] == grace
    assert status["auto_unpause_at"].startswith("2030-01-02T03:04:05")


def test_enrollment_resumes_at_start_batch_and_reports_each_batch(team: ApolloEmulator) -> None:
    ids = created(250)
    progress: list[tuple[int, list[str]]] = []
    result = ApolloHook().add_to_sequence(
        SEQUENCE,
        ids,
        mailbox=MAILBOX,
        start_batch=1,
        on_batch=lambda i, done: progress.append((i, done.enrolled)),
    )
    assert result.enrolled == ids[100:]
    assert progress == [(1, ids[100:200]), (2, ids[200:])]
    sequence_id = team.sequence_id(SEQUENCE)
    assert [sequence_id in team.sequence_statuses(i) for i in (ids[0], ids[99], ids[100])] == [
        False,
        False,
        True,
    ]
    assert len(sent(team, PATH_SEQUENCE_ADD.format(sequence_id=sequence_id))) == 2


def test_enrollment_with_a_key_that_is_not_a_master_key_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with ApolloEmulator(api_key=KEY, master_key=False) as emulator:
        connection = {"conn_type": "apollo", "password": KEY, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        ids = created(1)
        with pytest.raises(ApolloAuthError) as raised:
            ApolloHook().add_to_sequence(SEQUENCE, ids, mailbox=MAILBOX)
    error = raised.value
    assert error.status_code == 403
    assert error.body is not None and "error" in error.body
    assert (
        f"Enrolling contacts in sequence {SEQUENCE!r} needs an API key with access to "
        "api/v1/emailer_campaigns/add_contact_ids or a master API key, and this connection's key was "
        "refused (403): nothing in this batch was enrolled (0 batch(es) of 100 before it were). Give the "
        "key access to that endpoint (Apollo: Settings > Integrations > API keys) or put a master key in "
        "the connection. Apollo said: "
    ) in str(error)


def test_contacts_the_enrollment_answer_leaves_out_are_looked_up(team: ApolloEmulator) -> None:
    """
    Apollo's answer names none of three contacts: one is gone, one was enrolled, one was declined
    (it has no email). Each is read back (one GET each) and counted by what its membership shows.
    """
    hook = ApolloHook()
    gone, enrolled = created(2)
    no_email = hook.create_contact({"first_name": "No", "last_name": "Email"})["id"]
    team.delete_contacts(gone)
    original = team.api_add_contact_ids

    def answer_naming_nobody(request: Any) -> Any:
        status, body = original(request)
        return status, {**body, "contacts": [], "skipped_contact_ids": {}}

    team.api_add_contact_ids = answer_naming_nobody  # type: ignore[method-assign]
    result = hook.add_to_sequence(SEQUENCE, [gone, enrolled, no_email], mailbox=MAILBOX)
    assert result.enrolled == [enrolled]
    assert result.already_enrolled == [enrolled]
    assert result.skipped == {gone: "contact_not_found", no_email: NOT_REPORTED}
    for contact_id in (gone, enrolled, no_email):
        assert team.request_count(f"/contacts/{contact_id}", "GET") == 1


def test_removal_finishes_by_default_and_answers_for_the_contacts_that_exist(team: ApolloEmulator) -> None:
    kept, gone = created(2)
    hook = ApolloHook()
    hook.add_to_sequence(SEQUENCE, [kept, gone], mailbox=MAILBOX)
    team.delete_contacts(gone)
    assert hook.remove_from_sequence(SEQUENCE, [kept, gone]) == [kept]
    assert team.sequence_statuses(kept)[team.sequence_id(SEQUENCE)]["status"] == "finished"


@pytest.mark.parametrize("answer", [{"job": {"id": "j1", "status": "queued"}}, []], ids=["job", "not-a-dict"])
def test_a_removal_answered_without_contacts_counts_the_whole_batch(
    team: ApolloEmulator, answer: Any
) -> None:
    """Apollo takes a large removal as a background job: no contacts come back, the batch was taken."""
    ids = created(2)
    original = team.api_remove_or_stop_contact_ids

    def as_a_job(request: Any) -> Any:
        status, _ = original(request)
        return status, answer

    team.api_remove_or_stop_contact_ids = as_a_job  # type: ignore[method-assign]
    assert ApolloHook().remove_from_sequence(SEQUENCE, ids, mode="remove") == ids


# ------------------------------------------------------------------ users, owners, lists


def test_users_are_listed_once_per_hook(team: ApolloEmulator) -> None:
    hook = ApolloHook()
    first = hook.list_users()
    assert hook.list_users() == first
    assert len(first) == len(team.users)
    assert team.request_count("/users/search") == 1


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ((), r"^owner must be a non-empty string"),
        (("owner_email",), r"^owner_email must be a non-empty string"),
    ],
)
def test_a_blank_owner_is_refused_naming_the_argument(
    team: ApolloEmulator, argument: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        ApolloHook().resolve_owner_id(" ", *argument)
    assert team.request_count() == 0


def test_a_deleted_contact_skipped_is_logged_with_its_id(
    team: ApolloEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    ids = team.seed_contacts(2)
    team.delete_contacts(ids[0])
    with caplog.at_level(logging.WARNING, logger="airflow_provider_apollo.core.operations"):
        ApolloHook().update_contact_stages(ids, "Replied", skip_deleted=True)
    assert KEY not in caplog.text
    assert re.search(rf"(?<!\w)Skipping 1 deleted contacts: \['{ids[0]}'\](?!\w)", caplog.text), caplog.text


@pytest.mark.parametrize(
    ("items", "batch_size", "requests"),
    [(0, 100, 0), (1, 100, 1), (100, 100, 1), (101, 100, 2), (250, 100, 3), (5, 2, 3)],
)
def test_batch_count(items: int, batch_size: int, requests: int) -> None:
    assert ApolloHook().batch_count(items, batch_size) == requests
    if batch_size == 100:
        assert ApolloHook().batch_count(items) == requests


def test_lists_change_from_the_first_batch_unless_resumed(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(1500)  # two requests of 1,000 ids
    hook = ApolloHook()

    def members() -> list[str]:
        label = next(label for label in team.labels if label["name"] == "Hot leads")
        contacts = team.contacts  # one snapshot: each read renders every contact
        return [i for i in ids if label["id"] in contacts[i]["label_ids"]]

    progress: list[tuple[int, list[str]]] = []
    assert hook.add_to_lists(ids, ["Hot leads"], on_batch=lambda i, batch: progress.append((i, batch))) == ids
    assert progress == [(0, ids[:1000]), (1, ids[1000:])]
    assert members() == ids

    progress.clear()
    removed = hook.remove_from_lists(
        ids, ["Hot leads"], start_batch=1, on_batch=lambda i, b: progress.append((i, b))
    )
    assert removed == ids[1000:]
    assert progress == [(1, ids[1000:])]
    assert members() == ids[:1000]
    assert hook.remove_from_lists(ids[:3], ["Hot leads"]) == ids[:3]
    assert members() == ids[3:1000]
    assert hook.add_to_lists(ids[:2], ["Hot leads"], start_batch=0) == ids[:2]
    assert members() == ids[:2] + ids[3:1000]


# ------------------------------------------------------------------ concurrent search


def _delay_pages(emulator: ApolloEmulator, seconds: float, pages: set[int], times: int = 1) -> None:
    """The first ``times`` answers of each page in ``pages`` wait ``seconds`` inside Apollo."""
    original = emulator.api_search
    served: dict[int, int] = {}
    lock = threading.Lock()

    def slow(request: Any) -> Any:
        page = int(request.value("page") or 1)
        with lock:
            served[page] = served.get(page, 0) + 1
            wait = page in pages and served[page] <= times
        if wait:
            time.sleep(seconds)
        return original(request)

    emulator.api_search = slow  # type: ignore[method-assign]


def _threads_of(hook: ApolloHook, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread each of the hook's requests is sent from, in order."""
    threads: list[str] = []
    call = hook.call

    def recording(request: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return call(request, **kwargs)

    monkeypatch.setattr(hook, "call", recording)
    return threads


def test_search_reads_one_page_at_a_time_unless_asked_for_more(team: ApolloEmulator) -> None:
    team.seed_contacts(500)
    _delay_pages(team, 0.2, {2, 3, 4, 5})
    assert len(list(ApolloHook().search_contacts())) == 500
    assert team.connections_opened == 1


def test_concurrent_search_reads_pages_on_its_own_threads_at_once(
    team: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    team.seed_contacts(500)
    _delay_pages(team, 0.3, {2, 3, 4, 5})
    hook = ApolloHook()
    threads = _threads_of(hook, monkeypatch)
    read = [contact["id"] for contact in hook.search_contacts(concurrency=3)]
    assert len(read) == len(set(read)) == 500
    assert threads[0] == threading.current_thread().name, "the first page is read on the caller's thread"
    assert len(threads) == 5
    assert all(name.startswith("apollo-steps_") for name in threads[1:]), threads
    # Three pages in flight at once, each on its own connection; never more.
    assert team.connections_opened == 3


def test_a_rewind_never_puts_more_than_concurrency_pages_in_flight(team: ApolloEmulator) -> None:
    """
    Page 2 shows three contacts gone, while pages 3 to 5 are still being answered (slowly): the
    pager rewinds and asks again from page 1. The pages still in flight hold their threads, so
    the new requests wait for them instead of opening more connections.
    """
    ids = team.seed_contacts(450)
    _delay_pages(team, 1.0, {3, 4, 5})
    original = team.api_search

    def delete_after_page_1(request: Any) -> Any:
        answer = original(request)
        if int(request.value("page") or 1) == 1 and team.contact_count == 450:
            team.delete_contacts(ids[10:13])
        return answer

    team.api_search = delete_after_page_1  # type: ignore[method-assign]
    read = [contact["id"] for contact in ApolloHook().search_contacts(concurrency=4)]
    assert sorted(read) == sorted(ids)
    assert team.request_count("/contacts/search") > 5, "the pager rewound"
    assert team.connections_opened <= 4


# ------------------------------------------------------------------ bulk update


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_size": 0}, r"^batch_size must be"),
        ({"batch_size": 1001}, r"^batch_size must be"),
        ({}, r"^bulk_update_contacts takes either updates=\[\.\.\.\] or contact_ids= with values=\.$"),
        (
            {"updates": [{"id": "a", "title": "x"}], "contact_ids": ["a"], "values": {"title": "x"}},
            r"^bulk_update_contacts takes either",
        ),
        (
            {"contact_ids": [], "values": {"title": "x"}},
            r"^contact_ids is empty: give at least one contact id\.$",
        ),
        ({"updates": ({"id": "a"} for _ in range(1))}, r"^contacts must be a non-empty list"),
        (
            {"updates": [{"id": "a", "title": "x"}, {"id": "b", "custom_fields": {"Nope": 1}}]},
            r"^contacts\[1\]",
        ),
        ({"contact_ids": ["a"], "values": {"custom_fields": {"Nope": 1}}}, r"^values"),
        ({"contact_ids": ["a"], "values": "title=x"}, r"^values must be"),
        ({"contact_ids": ["a"], "values": {"stage": "Cold"}}, r"^values: bulk update does not take 'stage'"),
        (
            {"contact_ids": ["a"], "values": {"owner_id": "nobody@example.com"}},
            r"^Unknown owner 'nobody@example.com' \(given as values\['owner_id'\]\)",
        ),
    ],
    ids=[
        "batch-0",
        "batch-1001",
        "neither",
        "both",
        "no-ids",
        "generator",
        "bad-field",
        "bad-value",
        "owner",
        "values-not-a-dict",
        "values-field-not-bulk",
    ],
)
def test_bulk_update_names_a_bad_argument_before_any_write(
    team: ApolloEmulator, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        ApolloHook().bulk_update_contacts(**arguments)
    assert not sent(team, PATH_BULK_UPDATE)


def test_bulk_update_resolves_names_and_takes_a_tuple(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(2)
    hook = ApolloHook()
    owner = hook.list_users()[1]
    updates = (
        {"id": ids[0], "custom_fields": {"Segment": "SMB"}, "owner_id": owner["email"]},
        {"id": ids[1], "title": "CTO"},
    )
    assert [c["id"] for c in hook.bulk_update_contacts(updates)] == ids
    after = team.contacts
    assert after[ids[0]]["typed_custom_fields"][team.field_id("Segment")] == team.picklist_option_id(
        "Segment", "SMB"
    )
    assert after[ids[0]]["owner_id"] == owner["id"]
    assert after[ids[1]]["title"] == "CTO"


def test_bulk_update_batches_at_100_and_takes_shared_values_with_owner_email(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(250)
    updated = ApolloHook().bulk_update_contacts(contact_ids=ids, values={"owner_id": GRACE, "title": "VP"})
    grace = next(u["id"] for u in team.users if u["email"] == GRACE)
    assert [c["id"] for c in updated] == ids
    assert {(team.contacts[i]["owner_id"], team.contacts[i]["title"]) for i in ids} == {(grace, "VP")}
    assert team.request_count("/contacts/bulk_update") == 3


@pytest.mark.parametrize(("batch_size", "background"), [(100, False), (101, True), (1000, True)])
def test_bulk_update_asks_for_a_background_job_above_100_contacts_a_request(
    team: ApolloEmulator, batch_size: int, background: bool
) -> None:
    ids = team.seed_contacts(150)
    result = ApolloHook().bulk_update_contacts(contact_ids=ids, values={"title": "VP"}, batch_size=batch_size)
    assert [c["id"] for c in result] == ids
    requests = sent(team, PATH_BULK_UPDATE)
    assert [len(r.body["contact_ids"]) for r in requests] == [
        len(b) for b in (ids[:batch_size], ids[batch_size:]) if b
    ]
    assert [r.body.get("async") for r in requests] == [True if background else None] * len(requests)
    # Apollo answers a background job with ids only; a synchronous update with the contacts.
    assert all(set(c) == {"id"} for c in result) is background
    assert all(c["title"] == "VP" for c in team.contacts.values())


@pytest.mark.parametrize(("batch_size", "background"), [(1, False), (100, False), (101, True)])
def test_per_contact_updates_ask_for_a_background_job_above_100_a_request(
    team: ApolloEmulator, batch_size: int, background: bool
) -> None:
    ids = team.seed_contacts(102)
    updates = [{"id": contact_id, "title": f"T{n}"} for n, contact_id in enumerate(ids)]
    result = ApolloHook().bulk_update_contacts(updates, batch_size=batch_size)
    assert [c["id"] for c in result] == ids
    requests = sent(team, PATH_BULK_UPDATE)
    assert len(requests) == -(-102 // batch_size)
    assert [len(r.body["contact_attributes"]) for r in requests][:1] == [batch_size]
    assert {r.body.get("async") for r in requests} == {True if background else None}
    after = team.contacts
    assert [after[i]["title"] for i in ids] == [f"T{n}" for n in range(102)]


def test_bulk_update_resumes_at_start_batch_and_reports_each_batch(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(250)
    ids_twice = ids + ids[:5]  # one request per id: repeats are dropped
    progress: list[tuple[int, list[str]]] = []
    result = ApolloHook().bulk_update_contacts(
        contact_ids=ids_twice,
        values={"title": "VP"},
        start_batch=1,
        on_batch=lambda index, done: progress.append((index, [c["id"] for c in done])),
    )
    assert [c["id"] for c in result] == ids[100:]
    assert progress == [(1, ids[100:200]), (2, ids[200:])]
    after = team.contacts
    assert [after[i]["title"] == "VP" for i in ids] == [False] * 100 + [True] * 150


# ------------------------------------------------------------------ search pages, stage names, custom fields


def test_search_pages_are_read_on_the_callers_thread_unless_asked_for_more(
    team: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    team.seed_contacts(250)
    hook = ApolloHook()
    threads = _threads_of(hook, monkeypatch)
    pages = [(p.page, p.total_pages, p.total_entries, len(p.contacts)) for p in hook.search_contact_pages()]
    assert pages == [(1, 3, 250, 100), (2, 3, 250, 100), (3, 3, 250, 50)]
    resumed = [
        (p.page, len(p.contacts))
        for p in hook.search_contact_pages(per_page=100, start_page=2, concurrency=1)
    ]
    assert resumed == [(2, 100), (3, 50)]
    assert threads == [threading.current_thread().name] * 5


@pytest.mark.parametrize("concurrency", [2, 3])
def test_concurrent_search_pages_use_as_many_connections_as_asked(
    team: ApolloEmulator, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    team.seed_contacts(500)
    _delay_pages(team, 0.3, {2, 3, 4, 5})
    hook = ApolloHook()
    threads = _threads_of(hook, monkeypatch)
    pages = [p.page for p in hook.search_contact_pages(concurrency=concurrency)]
    assert pages == [1, 2, 3, 4, 5]
    assert sum(name.startswith("apollo-steps_") for name in threads) == 4
    assert team.connections_opened == concurrency


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"concurrency": 0}, r"^concurrency must be an integer from 1 to \d+, got 0\.$"),
        ({"start_page": 0}, r"^start_page must be an integer from 1 to 500, got 0\.$"),
        # 50,000 records at most: 1,666 whole pages of 30.
        ({"per_page": 30, "start_page": 1667}, r"^start_page must be an integer from 1 to 1666, got 1667\.$"),
        ({"max_records": -1}, r"^max_records"),
    ],
    ids=["concurrency", "start_page", "start_page-past-the-cap", "max_records"],
)
def test_search_pages_refuse_a_bad_argument_before_any_request(
    team: ApolloEmulator, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        ApolloHook().search_contact_pages(**arguments)
    assert team.request_count() == 0


def test_search_by_stage_names_sends_the_stages_ids(team: ApolloEmulator) -> None:
    replied = team.seed_contacts(3, stage="Replied")
    team.seed_contacts(4, stage="Cold")
    hook = ApolloHook()
    found = [c["id"] for c in hook.search_contacts({"contact_stages": ["replied"], "sort_ascending": True})]
    assert sorted(found) == sorted(replied)
    (search,) = sent(team, "/contacts/search")
    assert "contact_stages" not in search.body
    assert search.body["contact_stage_ids"] == [team.stage_id("Replied")]
    assert hook.search_filters({"q_keywords": "x"}) == {"q_keywords": "x"}
    assert team.request_count("/contact_stages", "GET") == 1


def test_custom_fields_are_listed_once_and_a_bad_one_names_the_argument(team: ApolloEmulator) -> None:
    hook = ApolloHook()
    hook.resolve_contact_fields({"custom_fields": {"Lead score": 5}})
    hook.resolve_contact_fields({"custom_fields": {"Segment": "SMB"}})
    with pytest.raises(ApolloArgumentError, match=r"^fields"):
        hook.resolve_contact_fields({"custom_fields": {"Nope": 1}})
    with pytest.raises(
        ApolloArgumentError, match=r"^Unknown owner 'x@example\.com' \(given as fields\['owner_id'\]\)"
    ):
        hook.resolve_contact_fields({"owner_id": "x@example.com"})
    assert len([r for r in team.requests if r.path.endswith("/api/v1/fields")]) == 1
