"""Operators that enroll contacts in an Apollo sequence and take them out again.

Apollo's API calls sequences ``emailer_campaigns``. A sequence is given by id or name, a mailbox
by its email account id or address; both are checked against the team before any contact is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException, Context

from airflow_provider_apollo.arguments import check_contact_ids_argument, is_resolved_later, non_empty_string
from airflow_provider_apollo.core import (
    ENROLLMENT_STATUSES,
    ID_BATCH_SIZE,
    PART_MAX_IDS,
    PATH_SEQUENCE_ADD,
    BatchCursor,
    EnrollmentResult,
    check_remove_mode,
    describe_skipped,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError
from airflow_provider_apollo.links import ApolloContactsLink
from airflow_provider_apollo.operators.base import ApolloBaseOperator, ApolloLongJobOperator

# XCom key for the contacts Apollo declined to enroll: ``{contact id: Apollo's reason code}``.
SKIPPED_CONTACTS_KEY = "skipped_contacts"
# The parts holding the ids enrolled by the batches before the checkpoint (see ``save_part``).
ENROLLED_IDS_KEY = "apollo_enrolled_ids_"
ON_SKIPPED_CHOICES = ("warn", "fail")


class ApolloAddToSequenceOperator(ApolloLongJobOperator):
    """
    Enroll contacts in a sequence, sending from a mailbox (100 contacts a request; needs a master key).

    Apollo declines some contacts (no email, active in another sequence, unsubscribed ...): they
    are pushed to XCom under ``skipped_contacts`` as ``{id: reason}``, and ``on_skipped`` decides
    whether that fails the task. A contact already in the sequence counts as enrolled, so a retried
    task enrolls nobody twice; after a quota wait, or in a new try after a killed worker (Airflow
    3.3 and later), the job resumes from the next batch with the ids enrolled so far.
    The enrollment flags are Apollo's, all False by default as in Apollo: nobody is enrolled whom
    Apollo would normally hold back.

    :param sequence: the sequence's id or name (case-insensitive). Templated.
    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param mailbox: the email account to send from: its id or its address. Templated.
    :param on_skipped: ``"warn"`` (log the skipped contacts and succeed) or ``"fail"`` (fail the task
        when any contact was skipped, after enrolling the others).
    :param status: ``"active"`` (Apollo's default) or ``"paused"`` for the new memberships.
    :param auto_unpause_at: ISO 8601 time at which paused memberships start (with ``status="paused"``).
    :param sequence_no_email: enroll contacts without an email address.
    :param sequence_unverified_email: enroll contacts whose email is not verified.
    :param sequence_job_change: enroll contacts with a recent job change.
    :param sequence_active_in_other_campaigns: enroll contacts active in another sequence.
    :param sequence_finished_in_other_campaigns: enroll contacts who finished another sequence.
    :param sequence_same_company_in_same_campaign: enroll colleagues of contacts already in it.
    :param contacts_without_ownership_permission: enroll contacts you do not own.
    :param add_if_in_queue: enroll contacts queued for processing.
    :param contact_verification_skipped: skip Apollo's contact verification.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("sequence", "contact_ids", "mailbox")
    operator_extra_links = (ApolloContactsLink(),)
    ui_color = "#e6f4ea"
    crash_safe = True
    resume_arguments = ("status", "auto_unpause_at", "flags")
    checkpoint_part_key = ENROLLED_IDS_KEY

    def __init__(
        self,
        *,
        sequence: str,
        contact_ids: list[str] | str,
        mailbox: str,
        on_skipped: str = "warn",
        status: str | None = None,
        auto_unpause_at: str | None = None,
        sequence_no_email: bool = False,
        sequence_unverified_email: bool = False,
        sequence_job_change: bool = False,
        sequence_active_in_other_campaigns: bool = False,
        sequence_finished_in_other_campaigns: bool = False,
        sequence_same_company_in_same_campaign: bool = False,
        contacts_without_ownership_permission: bool = False,
        add_if_in_queue: bool = False,
        contact_verification_skipped: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sequence = sequence
        self.contact_ids = contact_ids
        self.mailbox = mailbox
        if on_skipped not in ON_SKIPPED_CHOICES:
            raise ApolloArgumentError(f"on_skipped must be 'warn' or 'fail', got {on_skipped!r}.")
        self.on_skipped = on_skipped
        if status is not None and status not in ENROLLMENT_STATUSES:
            raise ApolloArgumentError(f"status must be 'active' or 'paused', got {status!r}.")
        self.status = status
        self.auto_unpause_at = auto_unpause_at
        self.flags = {
            "sequence_no_email": sequence_no_email,
            "sequence_unverified_email": sequence_unverified_email,
            "sequence_job_change": sequence_job_change,
            "sequence_active_in_other_campaigns": sequence_active_in_other_campaigns,
            "sequence_finished_in_other_campaigns": sequence_finished_in_other_campaigns,
            "sequence_same_company_in_same_campaign": sequence_same_company_in_same_campaign,
            "contacts_without_ownership_permission": contacts_without_ownership_permission,
            "add_if_in_queue": add_if_in_queue,
            "contact_verification_skipped": contact_verification_skipped,
        }
        for name, value in self.flags.items():
            if not isinstance(value, bool):
                raise ApolloArgumentError(f"{name} must be True or False, got {value!r}.")
        if not is_resolved_later(sequence):
            non_empty_string(sequence, "sequence", "a sequence id or name")
        if not is_resolved_later(mailbox):
            non_empty_string(mailbox, "mailbox", "an email account id or address")
        if not is_resolved_later(contact_ids):
            check_contact_ids_argument(contact_ids)

    def run_job(self, context: Context, checkpoint: Any) -> list[str]:
        contact_ids = check_contact_ids_argument(self.contact_ids)
        sequence = non_empty_string(self.sequence, "sequence", "a sequence id or name")
        mailbox = non_empty_string(self.mailbox, "mailbox", "an email account id or address")
        target = self.hook.find_sequence(sequence)
        sender = self.hook.resolve_mailbox(mailbox)
        unique = len(dict.fromkeys(contact_ids))
        total = self.hook.batch_count(unique, ID_BATCH_SIZE)
        cursor = BatchCursor.from_json(checkpoint)
        # What the batches before the cursor did: ids enrolled (in parts), skipped, already in it.
        result, already = self._saved_result(context, cursor, checkpoint, unique)
        pending: list[str] = []
        first = cursor.next_batch

        def durable() -> dict[str, Any]:
            if pending:
                self.save_part(context, cursor.saved_chunks, pending)
                cursor.saved_chunks += 1
                result.enrolled.extend(pending)
                pending.clear()
            return {
                **cursor.to_json(),
                "skipped_contacts": dict(result.skipped),
                "already_enrolled": already,
            }

        def record(index: int, done: EnrollmentResult) -> None:
            nonlocal already
            pending.extend(done.enrolled)
            result.skipped.update(done.skipped)
            already += len(done.already_enrolled)
            cursor.next_batch = index + 1
            self.log_batch_progress(
                f"{len(contact_ids):,} contacts", index + 1, total, PATH_SEQUENCE_ADD, first=index == first
            )
            # Enrolling a contact again enrolls it once: saving on the interval is enough.
            self.save_progress(durable, force=len(pending) >= PART_MAX_IDS)

        try:
            self.hook.add_to_sequence(
                target.id,
                contact_ids,
                mailbox=sender.id,
                status=self.status,
                auto_unpause_at=self.auto_unpause_at,
                start_batch=cursor.next_batch,
                on_batch=record,
                enrollment_flags=self.flags,
            )
        except ApolloRateLimitError as error:
            left = unique - cursor.next_batch * ID_BATCH_SIZE
            raise self.quota_stop(error, durable, f"{left:,} of {unique:,} contacts to enroll") from None
        result.enrolled.extend(pending)
        # Done: a verdict on the skipped contacts below must not make a retry resume anything.
        self.forget_progress()
        context["ti"].xcom_push(key=SKIPPED_CONTACTS_KEY, value=result.skipped)
        self.log.info(
            "Enrolled %d contacts in sequence %r from %s (%d were already in it); Apollo skipped %d",
            len(result.enrolled),
            target.name,
            sender.email or sender.id,
            already,
            len(result.skipped),
        )
        if result.skipped:
            message = f"Apollo skipped {len(result.skipped)} contact(s): {describe_skipped(result.skipped)}."
            if self.on_skipped == "fail":
                raise AirflowFailException(
                    f"{message} The others were enrolled. Pass the enrollment flag that allows them "
                    f"(e.g. sequence_active_in_other_campaigns=True), or on_skipped='warn'."
                )
            self.log.warning(message)
        return result.enrolled

    def _saved_result(
        self, context: Context, cursor: BatchCursor, checkpoint: Any, unique: int
    ) -> tuple[EnrollmentResult, int]:
        """What the checkpoint says the batches before it did (and how many contacts were in the
        sequence already); all of it, or the cursor starts over."""
        state = checkpoint if isinstance(checkpoint, dict) else {}
        parts = self.load_parts(context, cursor.saved_chunks)
        enrolled = [str(contact_id) for part in parts for contact_id in (part or [])]
        skipped = {str(k): str(v) for k, v in (state.get("skipped_contacts") or {}).items()}
        expected = min(cursor.next_batch * ID_BATCH_SIZE, unique)
        if any(part is None for part in parts) or len(enrolled) + len(skipped) != expected:
            if cursor.next_batch:
                self.log.warning(
                    "The checkpoint names %d contacts sent but %d were found with it: enrolling from "
                    "the first batch again (a contact already in the sequence counts as enrolled).",
                    expected,
                    len(enrolled) + len(skipped),
                )
            cursor.next_batch = cursor.saved_chunks = 0
            return EnrollmentResult(), 0
        return EnrollmentResult(enrolled=enrolled, skipped=skipped), int(state.get("already_enrolled") or 0)


class ApolloRemoveFromSequenceOperator(ApolloBaseOperator):
    """
    Take contacts out of a sequence: mark them finished (default), remove them, or stop them.

    :param sequence: the sequence's id or name (case-insensitive). Templated.
    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param mode: ``"finish"`` (Apollo's ``mark_as_finished``), ``"remove"`` (the membership is
        deleted) or ``"stop"`` (paused in place).
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("sequence", "contact_ids")
    operator_extra_links = (ApolloContactsLink(),)
    ui_color = "#e6f4ea"

    def __init__(
        self, *, sequence: str, contact_ids: list[str] | str, mode: str = "finish", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.sequence = sequence
        self.contact_ids = contact_ids
        self.mode = check_remove_mode(mode)
        if not is_resolved_later(sequence):
            non_empty_string(sequence, "sequence", "a sequence id or name")
        if not is_resolved_later(contact_ids):
            check_contact_ids_argument(contact_ids)

    def execute(self, context: Context) -> list[str]:
        contact_ids = check_contact_ids_argument(self.contact_ids)
        sequence = non_empty_string(self.sequence, "sequence", "a sequence id or name")
        target = self.hook.find_sequence(sequence)
        answered = self.hook.remove_from_sequence(target.id, contact_ids, mode=self.mode)
        self.log.info(
            "%s %d contacts in sequence %r (mode %s)",
            {"finish": "Finished", "remove": "Removed", "stop": "Stopped"}[self.mode],
            len(answered),
            target.name,
            self.mode,
        )
        return answered


__all__ = ["ApolloAddToSequenceOperator", "ApolloRemoveFromSequenceOperator", "SKIPPED_CONTACTS_KEY"]
