"""get_provider_info() against the schemas Airflow ships, and the boomi connection type in Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_boomi import __version__
from airflow_provider_boomi.get_provider_info import get_provider_info

AIRFLOW_DIR = Path(airflow.__file__).parent


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((AIRFLOW_DIR / name).read_text())


def test_valid_against_provider_info_schema() -> None:
    jsonschema.validate(get_provider_info(), load_schema("provider_info.schema.json"))


def test_connection_types_valid_against_provider_yaml_schema() -> None:
    # provider_info.schema.json leaves connection-type items open; provider.yaml's schema is the
    # one that defines conn-fields and ui-field-behaviour, so check those entries against it.
    item_schema = load_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(get_provider_info()["connection-types"], item_schema)


def test_contents() -> None:
    from airflow.sdk import BaseNotifier, BaseOperator

    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-boomi"
    assert info["versions"] == [__version__]
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "boomi"
    assert conn["hook-class-name"] == "airflow_provider_boomi.hooks.boomi.BoomiHook"
    assert conn["hook-name"] == "Boomi"
    assert conn["ui-field-behaviour"]["hidden-fields"] == ["schema", "port"]
    assert conn["ui-field-behaviour"]["relabeling"] == {
        "host": "Base URL",
        "login": "Email",
        "password": "API token",
    }
    fields = conn["conn-fields"]
    assert {name: f["schema"]["type"] for name, f in fields.items()} == {
        "account_id": "string",
        "requests_per_second": "number",
        "max_retries": "integer",
        "timeout": "number",
        "provisioning_enabled": "boolean",
    }
    assert fields["provisioning_enabled"]["schema"]["default"] is False
    listed = [m for entry in info["operators"] for m in entry["python-modules"]]
    assert sorted(listed) == _modules_defining(BaseOperator), "every operator module is listed, once"
    notifiers = info["notifications"]
    assert [f"{c.__module__}.{c.__qualname__}" for c in map(_import_class, notifiers)] == notifiers
    assert all(issubclass(_import_class(path), BaseNotifier) for path in notifiers)


def _modules_defining(base: type) -> list[str]:
    """The public modules of ``operators/`` that define a subclass of ``base``."""
    import importlib
    import inspect
    import pkgutil

    import airflow_provider_boomi.operators as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if any(
            issubclass(obj, base) and obj.__module__ == module.__name__
            for obj in vars(module).values()
            if inspect.isclass(obj)
        ):
            found.append(module.__name__)
    return sorted(found)


def _import_class(path: str) -> type:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def test_returns_fresh_copies() -> None:
    first = get_provider_info()
    first["connection-types"][0]["conn-fields"]["account_id"]["label"] = "changed"
    assert get_provider_info()["connection-types"][0]["conn-fields"]["account_id"]["label"] == "Account ID"


def test_hook_field_behaviour_matches_and_is_valid() -> None:
    from airflow_provider_boomi.hooks.boomi import BoomiHook

    behaviour = BoomiHook.get_ui_field_behaviour()
    jsonschema.validate(behaviour, load_schema("customized_form_field_behaviours.schema.json"))
    declared = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    assert behaviour == {
        "hidden_fields": declared["hidden-fields"],
        "relabeling": declared["relabeling"],
        "placeholders": declared["placeholders"],
    }


def test_airflow_registers_the_boomi_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    if "airflow-provider-boomi" not in manager.providers:
        pytest.fail("the provider is not installed: run `pip install -e . --no-deps` (make install does)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hook = manager.hooks["boomi"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_boomi.hooks.boomi.BoomiHook"
    assert hook.connection_id_attribute_name == "boomi_conn_id"
    assert hook.hook_name == "Boomi"
    assert hook.connection_testable
    widgets = manager.connection_form_widgets
    for name in ("account_id", "requests_per_second", "max_retries", "timeout", "provisioning_enabled"):
        assert f"extra__boomi__{name}" in widgets
    assert widgets["extra__boomi__account_id"].field["schema"]["title"] == "Account ID"
    assert manager.field_behaviours["boomi"]["hidden_fields"] == ["schema", "port"]


def test_provider_info_and_client_do_not_import_airflow() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_boomi.get_provider_info, airflow_provider_boomi.client\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
