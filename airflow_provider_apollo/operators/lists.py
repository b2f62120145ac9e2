"""Operators that put contacts on Apollo lists (labels) by name and take them off, in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_apollo.arguments import (
    check_contact_ids_argument,
    check_native_argument,
    is_resolved_later,
)
from airflow_provider_apollo.core import (
    LIST_BATCH_SIZE,
    PATH_LABELS_ADD,
    PATH_LABELS_REMOVE,
    BatchCursor,
    check_list_names,
)
from airflow_provider_apollo.exceptions import ApolloRateLimitError
from airflow_provider_apollo.links import ApolloContactsLink
from airflow_provider_apollo.operators.base import ApolloLongJobOperator


def _check_list_names_argument(value: Any) -> list[str]:
    if isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        return check_list_names([value])
    return check_list_names(check_native_argument(value, "list_names", list))


class _ApolloListsOperator(ApolloLongJobOperator):
    template_fields: Sequence[str] = ("contact_ids", "list_names")
    operator_extra_links = (ApolloContactsLink(),)
    ui_color = "#fef7e0"
    _add = True
    crash_safe = True

    def __init__(self, *, contact_ids: list[str] | str, list_names: list[str] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.list_names = list_names
        if not is_resolved_later(contact_ids):
            check_contact_ids_argument(contact_ids)
        if not is_resolved_later(list_names):
            _check_list_names_argument(list_names)

    def run_job(self, context: Context, checkpoint: Any) -> list[str]:
        contact_ids = list(dict.fromkeys(check_contact_ids_argument(self.contact_ids)))
        names = _check_list_names_argument(self.list_names)
        cursor = BatchCursor.from_json(checkpoint)
        endpoint = PATH_LABELS_ADD if self._add else PATH_LABELS_REMOVE
        total = self.hook.batch_count(len(contact_ids), LIST_BATCH_SIZE)
        first = cursor.next_batch

        def record(index: int, batch: list[str]) -> None:
            cursor.next_batch = index + 1
            self.log_batch_progress(
                f"{len(contact_ids):,} contacts", index + 1, total, endpoint, first=index == first
            )
            # Adding a contact to a list twice changes nothing: saving on the interval is enough.
            self.save_progress(cursor.to_json)

        change = self.hook.add_to_lists if self._add else self.hook.remove_from_lists
        try:
            change(contact_ids, names, start_batch=cursor.next_batch, on_batch=record)
        except ApolloRateLimitError as error:
            left = len(contact_ids) - cursor.next_batch * LIST_BATCH_SIZE
            raise self.quota_stop(
                error, cursor.to_json, f"{left:,} of {len(contact_ids):,} contacts"
            ) from None
        self.log.info(
            "%s %d contacts %s list(s) %s",
            "Added" if self._add else "Removed",
            len(contact_ids),
            "to" if self._add else "from",
            ", ".join(map(repr, names)),
        )
        return contact_ids


class ApolloAddToListsOperator(_ApolloListsOperator):
    """
    Add contacts to lists by name, 1,000 contacts a request; a list that does not exist yet is
    created by Apollo on first use. Adding a contact twice changes nothing.

    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param list_names: the lists' names (one name or a list of names). Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    _add = True


class ApolloRemoveFromListsOperator(_ApolloListsOperator):
    """
    Remove contacts from lists by name, 1,000 contacts a request.

    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param list_names: the lists' names (one name or a list of names). Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    _add = False


__all__ = ["ApolloAddToListsOperator", "ApolloRemoveFromListsOperator"]
