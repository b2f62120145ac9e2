"""Operator links: the contacts a task created or changed in Apollo's web app, an export's object in the S3 console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

__all__ = [
    "APOLLO_APP_URL",
    "ApolloContactsLink",
    "ApolloExportS3Link",
    "contacts_url",
    "s3_console_url",
]

# Apollo's web app routes are not documented: these are the forms its address bar shows.
APOLLO_APP_URL = "https://app.apollo.io"
CONTACT_PATH = "/#/contacts/"
CONTACTS_LIST_PATH = "/#/contacts"
S3_CONSOLE_URL = "https://s3.console.aws.amazon.com/s3/object/"


def contacts_url(value: Any) -> str:
    """
    Where to see the contacts a task returned: one contact's page for one id, the contacts list
    for several, ``""`` for none (the UI then shows no link).

    :param value: the task's XCom return value: a contact id, or a list of them.
    """
    if isinstance(value, str) and value:
        return f"{APOLLO_APP_URL}{CONTACT_PATH}{quote(value, safe='')}"
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        ids = [str(item) for item in value if isinstance(item, (str, int)) and str(item)]
        if len(ids) == 1:
            return contacts_url(ids[0])
        if ids:
            return f"{APOLLO_APP_URL}{CONTACTS_LIST_PATH}"
    return ""


def s3_console_url(s3_uri: Any) -> str:
    """The AWS console page of an object given as ``s3://bucket/key``; ``""`` for anything else."""
    if not isinstance(s3_uri, str) or not s3_uri.startswith("s3://"):
        return ""
    bucket, _, key = s3_uri[len("s3://") :].partition("/")
    if not bucket or not key:
        return ""
    return f"{S3_CONSOLE_URL}{quote(bucket, safe='')}?{urlencode({'prefix': key})}"


class ApolloContactsLink(BaseOperatorLink):
    """
    "Apollo contacts": the contacts the task created or changed, built from its return value.

    Airflow 3 computes the link on the worker when the task ends and keeps it in XCom
    (``_link_ApolloContactsLink``); a task that returned nothing shows no link.
    """

    name = "Apollo contacts"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return contacts_url(XCom.get_value(ti_key=ti_key, key="return_value"))


class ApolloExportS3Link(BaseOperatorLink):
    """ "S3 object": the export's object in the AWS S3 console, from the task's ``s3_uri`` XCom."""

    name = "S3 object"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return s3_console_url(XCom.get_value(ti_key=ti_key, key="s3_uri"))
