"""Apply the decisions of a Boomi access review, prove they took effect, and keep the evidence.

Trigger it with the campaign folder (written by ``boomi_access_review``) and the filled
workbook (CSV or XLSX, ``decision`` = keep or revoke for every row). The DAG:

1. ``validate``: reads the workbook against the campaign. Unknown or duplicate items, missing
   decisions and bad values fail here, naming the rows, before anything touches Boomi. The
   decisions are recorded in the campaign folder (later campaigns use them for
   ``never_reviewed``) and become a change set of revocations.
2. ``plan``: a dry run of the revocations: what would change, against Boomi's current state.
3. ``apply``: the revocations, with Boomi's rules (a user's last global role is replaced by
   Standard User first; users are never deleted), each in the ledger.
4. ``resync``: a fresh snapshot of the account.
5. ``verify``: every revoked grant is absent from the fresh snapshot, or the run fails.
6. ``evidence``: a folder for auditors with the campaign, the workbook, the decisions, the
   change set, the ledger rows of this run, the verification, both snapshot manifests and an
   index (``index.json`` with sha256 of every file, ``index.md`` to read).

With no revocations, steps 2 to 5 are skipped and the evidence still records the decisions.
The connection must have ``provisioning_enabled: true``; ``max_changes`` (default 25) guards
against an unexpectedly large batch and must be raised on purpose.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")


@dag(
    dag_id="boomi_apply_review_decisions",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "access-review", "provisioning"],
    doc_md=__doc__,
    params={
        "campaign_dir": Param("", type="string", minLength=1, description="Folder of the campaign"),
        "workbook_path": Param("", type="string", minLength=1, description="The filled CSV or XLSX"),
        "boomi_conn_id": Param("boomi_default", type="string"),
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "ledger_path": Param(f"{DATA_DIR}/ledger", type="string", description="Provisioning ledger"),
        "evidence_path": Param(f"{DATA_DIR}/evidence", type="string", description="Evidence bundles"),
        "max_changes": Param(25, type="integer", minimum=1, description="Largest batch accepted"),
    },
)
def boomi_apply_review_decisions() -> None:
    @task
    def validate(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate the workbook against the campaign; record the decisions; build the change set."""
        from airflow_provider_boomi.review import decisions_to_changes, read_decisions, record_decisions

        assert params is not None
        decisions = read_decisions(params["campaign_dir"], params["workbook_path"])
        decisions_path = record_decisions(decisions, params["campaign_dir"])
        changes = decisions_to_changes(decisions)
        return {
            "campaign_id": decisions.campaign_id,
            "decisions_path": str(decisions_path),
            "changes": changes,
            "revocations": len(changes),
            "kept": len(decisions.kept),
        }

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def has_revocations(validated: dict[str, Any]) -> bool:
        """Skip plan, apply, resync and verify when every decision was keep."""
        return bool(validated["revocations"])

    common = {
        "boomi_conn_id": "{{ params.boomi_conn_id }}",
        "ledger_path": "{{ params.ledger_path }}",
        "max_changes": "{{ params.max_changes }}",
    }
    validated = validate()
    plan = BoomiApplyAccessChangesOperator(
        task_id="plan", changes=validated["changes"], dry_run=True, **common
    )
    apply = BoomiApplyAccessChangesOperator(task_id="apply", changes=validated["changes"], **common)
    resync = BoomiSyncOperator(
        task_id="resync", boomi_conn_id="{{ params.boomi_conn_id }}", output_path="{{ params.output_path }}"
    )

    @task
    def verify(
        validated: dict[str, Any], applied: dict[str, Any], snapshot: dict[str, Any]
    ) -> dict[str, Any]:
        """Every revoked grant must be absent from the fresh snapshot."""
        from airflow_provider_boomi.dataset import SnapshotStore
        from airflow_provider_boomi.dataset.grant_ids import (
            grant_id,
            group_entitlement_id,
            role_entitlement_id,
        )

        store = SnapshotStore(os.path.dirname(os.path.dirname(snapshot["snapshot_path"])))
        present = set()
        for table in ("user_role_grants", "group_role_grants"):
            rows = store.read_table(snapshot["account_id"], snapshot["sync_id"], table, as_="arrow")
            present.update(grant.lower() for grant in rows.column("grant_id").to_pylist())
        outcomes = applied["outcomes"]
        checks = []
        for change, outcome in zip(validated["changes"], outcomes, strict=True):
            if change["account_group_id"]:
                entitlement = group_entitlement_id(change["account_group_id"], change["role_id"])
            else:
                entitlement = role_entitlement_id(change["role_id"])
            revoked = grant_id(entitlement, change["user_id"])
            checks.append(
                {
                    "grant_id": revoked,
                    "outcome": outcome["outcome"],
                    "side_effects": outcome.get("side_effects") or [],
                    "absent_after_resync": revoked.lower() not in present,
                }
            )
        failed = [c for c in checks if not c["absent_after_resync"]]
        if failed:
            raise RuntimeError(f"{len(failed)} revocation(s) not in effect after the resync: {failed}")
        return {"verified": len(checks), "sync_id": snapshot["sync_id"], "checks": checks}

    @task(trigger_rule="none_failed")
    def evidence(
        validated: dict[str, Any],
        verification: dict[str, Any] | None,
        snapshot: dict[str, Any] | None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the evidence bundle for auditors, with an index of every file and its sha256."""
        from airflow_provider_boomi.review.evidence import write_evidence_bundle

        assert params is not None
        context = get_current_context()
        return write_evidence_bundle(
            params["evidence_path"],
            campaign_dir=params["campaign_dir"],
            workbook_path=params["workbook_path"],
            changes=validated["changes"],
            verification=verification,
            ledger_path=params["ledger_path"],
            run_id=context["run_id"],
            resync_manifest_path=snapshot["manifest_path"] if snapshot else None,
            snapshot_root=params["output_path"],
        )

    gate = has_revocations(validated)
    gate >> plan >> apply >> resync
    checked = verify(validated, apply.output, resync.output)
    evidence(validated, checked, resync.output)


boomi_apply_review_decisions()
