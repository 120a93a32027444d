"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Kept free of heavy imports: Airflow calls it in every component, and the connection form is rendered
from the ``connection-types`` entry below (Airflow 3.2+) without importing the hook.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_boomi import __version__
from airflow_provider_boomi._rules import ACCOUNT_ID_PATTERN, DEFAULT_REQUESTS_PER_SECOND

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "Base URL", "login": "Email", "password": "API token"},
    "placeholders": {
        "host": "https://api.boomi.com/api/rest/v1 (empty = this default)",
        "login": "user@example.com (sent as BOOMI_TOKEN.<email>)",
        "password": "Boomi Platform API token",
    },
}
"""Standard-field customisation of the Boomi connection form (kebab-case, as provider.yaml)."""

CONN_FIELDS: dict[str, Any] = {
    "account_id": {
        "label": "Account ID",
        "description": "The Boomi account id, e.g. acme-Q7R2ZK (Settings > Account Information). Required.",
        "schema": {"type": "string", "pattern": ACCOUNT_ID_PATTERN},
    },
    "requests_per_second": {
        "label": "Requests per second",
        "description": (
            f"Client-side pace for this account. Boomi allows {DEFAULT_REQUESTS_PER_SECOND:g} "
            "requests/s per account."
        ),
        "schema": {"type": "number", "default": DEFAULT_REQUESTS_PER_SECOND, "minimum": 0.1},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries after the first attempt for 503/429/5xx, timeouts and connection errors.",
        "schema": {"type": "integer", "default": 8, "minimum": 0},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Per-request connect and read timeout.",
        "schema": {"type": "number", "default": 60, "minimum": 1},
    },
    "provisioning_enabled": {
        "label": "Provisioning enabled",
        "description": "Allow operators to change access in Boomi. Off: they refuse (dry runs still work).",
        "schema": {"type": "boolean", "default": False},
    },
}
"""Extra fields of the Boomi connection form, stored in ``Connection.extra``."""


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow: package, hooks, operators and the ``boomi`` connection type."""
    return {
        "package-name": "airflow-provider-boomi",
        "name": "Boomi",
        "description": (
            "Boomi access governance: sync users, roles and account groups to Parquet, review "
            "access, and provision changes safely."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Boomi",
                "external-doc-url": "https://developer.boomi.com/docs/api/platformapi/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Boomi", "python-modules": ["airflow_provider_boomi.hooks.boomi"]},
        ],
        "operators": [
            {
                "integration-name": "Boomi",
                "python-modules": [
                    "airflow_provider_boomi.operators.sync",
                    "airflow_provider_boomi.operators.provisioning",
                    "airflow_provider_boomi.operators.warehouse",
                    "airflow_provider_boomi.operators.review",
                    "airflow_provider_boomi.operators.verification",
                    "airflow_provider_boomi.operators.evidence",
                    "airflow_provider_boomi.operators.findings",
                    "airflow_provider_boomi.operators.notifications",
                    "airflow_provider_boomi.operators.retention",
                ],
            }
        ],
        "notifications": ["airflow_provider_boomi.operators.notifications.BoomiReviewNotifier"],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_boomi.hooks.boomi.BoomiHook",
                "connection-type": "boomi",
                "hook-name": "Boomi",
                "ui-field-behaviour": copy.deepcopy(UI_FIELD_BEHAVIOUR),
                "conn-fields": copy.deepcopy(CONN_FIELDS),
            }
        ],
    }
