#!/usr/bin/env bash
# The two ways docs/quickstart.md and docs/connection.md create the Apollo connection, and the
# pool docs/rate-limits.md sizes.
# tests/e2e/test_connection_setup.py runs this file in a throwaway AIRFLOW_HOME and checks what the
# hook reads after each (never printing the key itself).
set -euo pipefail
: "${APOLLO_API_KEY:?set APOLLO_API_KEY to your Apollo API key}"

show_connection() {
    # The connection as Airflow resolves it, parsed by the hook's own config code.
    airflow connections get apollo_default -o json | python -c '
import json, sys
from airflow_provider_apollo.core import ApolloConfig
line = next(line for line in sys.stdin if line.startswith("[{"))  # not a "[date] log" line
conn = json.loads(line)[0]
extra = conn["extra_dejson"]
config = ApolloConfig.from_connection(conn_id=conn["conn_id"], password=conn["password"], host=conn["host"], extra=extra)
fields = ("base_url", "auth_type", "timeout", "max_retries", "max_retry_wait")
print(json.dumps({**{name: getattr(config, name) for name in fields}, "key_length": len(config.api_key)}))'
}

# [START howto_connection_cli]
airflow connections add apollo_default \
    --conn-type apollo \
    --conn-password "$APOLLO_API_KEY" \
    --conn-host https://api.apollo.io/api/v1 \
    --conn-extra '{"timeout": 30, "max_retries": 5, "max_retry_wait": 60}'
# [END howto_connection_cli]
show_connection

# An environment variable overrides a connection of the same id stored in the database.
# [START howto_connection_env]
export AIRFLOW_CONN_APOLLO_DEFAULT='{
    "conn_type": "apollo",
    "password": "YOUR_API_KEY",
    "host": "https://api.apollo.io/api/v1",
    "extra": {"auth_type": "api_key", "timeout": 20, "max_retries": 3, "max_retry_wait": 30}
}'
# [END howto_connection_env]
show_connection

# [START howto_apollo_pool]
# One pool for every task that calls Apollo: at most 4 of them run at once, across all workers.
airflow pools set apollo 4 "Tasks calling the Apollo API (per-team rate limits)"
# [END howto_apollo_pool]
airflow pools get apollo -o json | python -c '
import json, sys
pool = json.loads(next(line for line in sys.stdin if line.startswith("[{")))[0]
print(json.dumps({"pool": pool["pool"], "slots": int(pool["slots"])}))'
