"""A local, stateful Apollo.io API for tests, demos and benchmarks (standard library only, no Airflow).

Example::

    with ApolloEmulator(rate_limits={"minute": 200}, time_scale=0.05) as apollo:
        apollo.seed_contacts(1_000)
        apollo.add_fault("status", status=503, path="/contacts/search", count=2)
        ...  # point the hook at apollo.url with apollo.api_key
        assert apollo.status_counts()[503] == 2
"""

from __future__ import annotations

from airflow_provider_apollo.testing.emulator import ApolloEmulator, Fault, RecordedRequest
from airflow_provider_apollo.testing.tasks import DeferredRun, TaskInstanceStub, run_deferring

__all__ = ["ApolloEmulator", "DeferredRun", "Fault", "RecordedRequest", "TaskInstanceStub", "run_deferring"]
