"""Loaded inside the e2e Celery workers (``tests/e2e/celery_cluster.py`` puts this folder on their
PYTHONPATH): ``[core] hostname_callable``, so each worker's task instances record the worker's own
name as ``hostname``, as two machines would, though both workers share this machine.

Standalone and stdlib-only on purpose: the workers' task processes import it before anything else.
"""

from __future__ import annotations

import os
import socket

ENV = "APOLLO_E2E_WORKER_HOSTNAME"


def hostname() -> str:
    return os.environ.get(ENV) or socket.getfqdn()
