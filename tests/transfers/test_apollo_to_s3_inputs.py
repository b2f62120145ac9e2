"""
Bad input to ApolloSearchToS3Operator: a clear error naming the argument, before any request, whether
it is given as such or only known once its template is rendered.
"""

from __future__ import annotations

from typing import Any

import pytest
from reliability_support import Outcome, assert_refused_naming_it

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

EXPORT = {"s3_bucket": "bucket", "s3_key": "contacts.jsonl"}

# (case, operator class, arguments, text the error must contain: the argument it names)
BAD_ARGUMENTS = [
    ("export file_format is xml", ApolloSearchToS3Operator, {**EXPORT, "file_format": "xml"}, "file_format"),
    ("export compression is zip", ApolloSearchToS3Operator, {**EXPORT, "compression": "zip"}, "compression"),
    ("export max_records is -1", ApolloSearchToS3Operator, {**EXPORT, "max_records": -1}, "max_records"),
    ("export concurrency is 0", ApolloSearchToS3Operator, {**EXPORT, "concurrency": 0}, "concurrency"),
]


@pytest.mark.parametrize(
    "operator_class, arguments, named",
    [pytest.param(cls, args, named, id=case) for case, cls, args, named in BAD_ARGUMENTS],
)
def test_bad_argument_fails_naming_it_before_any_request(
    emulator: ApolloEmulator,
    operator_class: type,
    arguments: dict[str, Any],
    named: str,
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    outcome: Outcome,
) -> None:
    # Built and run as a task would be: wherever the check happens (construction or execute),
    # it must come before the first request.
    assert_refused_naming_it(
        emulator, lambda: operator_class(task_id="t", **arguments).execute(context), named
    )
    outcome(request.node.callspec.id, operator_class.__name__, "clear error naming the argument, 0 requests")


@pytest.mark.parametrize(
    "operator_class, arguments, named",
    [
        pytest.param(
            ApolloSearchToS3Operator,
            {**EXPORT, "search": "{{ 'q' }}"},
            "search",
            id="export search renders to a string",
        ),
        pytest.param(
            ApolloSearchToS3Operator,
            {**EXPORT, "s3_key": "{{ 's3://bucket/key' }}"},
            "s3_key",
            id="export s3_key renders to a URL",
        ),
        pytest.param(
            ApolloSearchToS3Operator,
            {**EXPORT, "updated_since": "{{ 'yesterday-ish' }}"},
            "updated_since",
            id="export updated_since is not a date",
        ),
    ],
)
def test_bad_rendered_argument_fails_naming_it_before_any_request(
    emulator: ApolloEmulator,
    operator_class: type,
    arguments: dict[str, Any],
    named: str,
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    outcome: Outcome,
) -> None:
    operator = operator_class(task_id="t", **arguments)
    operator.render_template_fields(context)
    assert_refused_naming_it(emulator, lambda: operator.execute(context), named)
    outcome(
        request.node.callspec.id,
        operator_class.__name__,
        "clear error at run time naming the argument, 0 requests",
    )
