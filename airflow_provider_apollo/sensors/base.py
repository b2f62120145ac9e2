"""What the Apollo sensors share: a check that waits out an exhausted hourly or daily quota."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_apollo.core.quota import quota_pause
from airflow_provider_apollo.exceptions import ApolloRateLimitError


class ApolloCheckSensor(BaseSensorOperator):
    """A sensor whose ``_check()`` calls Apollo through ``self.hook``; subclasses implement both."""

    hook: Any

    def _check(self) -> Any:
        raise NotImplementedError

    def _check_or_quota_wait(self) -> Any:
        """The check's result, or the seconds until an exhausted hourly or daily quota resets."""
        try:
            return self._check()
        except ApolloRateLimitError as error:
            pause = quota_pause(error, self.hook.config.max_retry_wait)
            if pause is None:
                raise
            self.log.warning("Apollo's quota is used up; it resets in %.0f s, so this check waits", pause)
            return pause
