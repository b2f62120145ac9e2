"""The export's Airflow Asset: which asset it declares, the event extra it writes, the hook lineage it reports."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from airflow_provider_apollo.exceptions import ApolloArgumentError

__all__ = [
    "EXPORT_EXTRA_KEYS",
    "export_asset",
    "record_export",
]

# What the export's asset event carries in ``extra``.
EXPORT_EXTRA_KEYS = ("s3_uri", "record_count")
# Lineage name of what the export reads.
LINEAGE_INPUT_PATH = "contacts"
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def _templated(value: str) -> bool:
    return any(marker in value for marker in _TEMPLATE_MARKERS)


def _static_prefix(key: str) -> str:
    """The part of a templated key before its first template, cut back to a whole folder."""
    head = min(key.index(marker) for marker in _TEMPLATE_MARKERS if marker in key)
    return key[:head].rpartition("/")[0]


def export_asset(s3_bucket: Any, s3_key: Any, asset: Any = None) -> Any:
    """
    The Asset an export declares as its outlet.

    ``asset`` wins when given (an ``Asset``, or a URI string). Otherwise it is derived from the
    destination: ``s3://bucket/key`` when both are plain strings; ``s3://bucket/prefix`` when the
    key is templated (the folder before the first template, e.g. ``apollo/contacts`` for
    ``apollo/contacts/dt={{ ds }}/contacts.jsonl``), since an asset's URI is fixed when the DAG is
    parsed; ``None`` (no outlet) when the bucket itself is templated: pass ``asset=`` then.

    :param s3_bucket: the operator's ``s3_bucket`` argument, unrendered.
    :param s3_key: the operator's ``s3_key`` argument, unrendered.
    :param asset: an ``Asset`` or a URI string, or ``None`` to derive one.
    """
    from airflow.providers.common.compat.sdk import Asset

    if asset is not None:
        if isinstance(asset, Asset):
            return asset
        if isinstance(asset, str) and asset.strip() and not _templated(asset):
            return Asset(asset.strip())
        raise ApolloArgumentError(
            f"asset must be an airflow.sdk.Asset or a URI string fixed at parse time, got {asset!r}."
        )
    if (
        not isinstance(s3_bucket, str)
        or not isinstance(s3_key, str)
        or not s3_bucket
        or _templated(s3_bucket)
    ):
        return None
    if not _templated(s3_key):
        return Asset(f"s3://{s3_bucket}/{s3_key}")
    prefix = _static_prefix(s3_key)
    return Asset(f"s3://{s3_bucket}/{prefix}" if prefix else f"s3://{s3_bucket}")


def record_export(operator: Any, context: Any, *, s3_uri: str, record_count: int) -> None:
    """
    Tell Airflow what an export wrote: the asset event's ``extra`` for the operator's outlet, and
    hook-level lineage (Apollo's contacts in, the S3 object out).

    Neither may fail the export: an error here is logged, not raised.

    :param operator: the finished ``ApolloSearchToS3Operator``.
    :param context: the task's context.
    :param s3_uri: where the export was written (rendered).
    :param record_count: how many contacts it holds.
    """
    asset = getattr(operator, "export_asset", None)
    extra = {"s3_uri": s3_uri, "record_count": int(record_count)}
    try:
        if asset is not None:
            context["outlet_events"][asset].extra.update(extra)
    except Exception:  # the export is done; a missing accessor must not fail it
        operator.log.warning("Could not attach the export's asset event extra", exc_info=True)
    try:
        from airflow.providers.common.compat.sdk import get_hook_lineage_collector

        hook = operator.hook
        try:
            host = urlsplit(hook.config.base_url).netloc or "api.apollo.io"
        except Exception:
            host = "api.apollo.io"
        collector = get_hook_lineage_collector()
        collector.add_input_asset(context=hook, uri=f"apollo://{host}/{LINEAGE_INPUT_PATH}")
        collector.add_output_asset(context=hook, uri=s3_uri, asset_extra={"record_count": int(record_count)})
    except Exception:
        operator.log.warning("Could not report the export's hook lineage", exc_info=True)
