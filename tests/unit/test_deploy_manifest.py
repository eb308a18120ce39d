"""The manifest, functions/main.py, cloudbuild.yaml, infra/monitoring/ and the dry run agree."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

import functions.main as entry_points
from infra import monitoring
from infra.cli import main as cli_main
from infra.deploy import ROOT, dry_run, render_cloudbuild, stage_bundle
from infra.manifest import Manifest, QueueTrigger, TopicTrigger, load_environments, load_manifest
from shared.config import load_settings

MANIFEST = load_manifest()
ENVS = load_environments(MANIFEST)
CLOUDBUILD = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))


def manifest_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "infra" / "manifest.yaml").read_text(encoding="utf-8"))
    return data


def with_extra_functions() -> Manifest:
    """The manifest plus two functions, as another engineer would add them: nothing else edited."""
    data = manifest_data()
    data["secrets"].append({"name": "signing-key", "env": "PITLANE_SIGNING_KEY"})  # required
    data["functions"]["extra_fn"] = {
        "trigger": {"type": "topic", "topic": "race-events"},
        "retry": True,
        "memory": "2Gi",
        "timeout_s": 77,
        "needs": ["firestore.write", "secret:signing-key", "secret:openf1-token", "storage.read:models"],
    }
    data["functions"]["extra_task"] = {"trigger": {"type": "queue", "queue": "reminders"}, "needs": []}
    return Manifest.model_validate(data)


def sections(lines: list[str]) -> dict[str, list[str]]:
    """Dry-run output by step id (``# step <id> ...`` headers)."""
    out: dict[str, list[str]] = {}
    current = "_head"
    for line in lines:
        m = re.match(r"# step (\S+) ", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif not line.startswith("#"):
            out.setdefault(current, []).append(line)
    return out


def test_every_manifest_function_is_exported_by_main_and_nothing_else() -> None:
    assert sorted(entry_points.__all__) == sorted(MANIFEST.functions)
    for name in MANIFEST.functions:
        assert callable(getattr(entry_points, name)), name
        assert getattr(entry_points, name).__name__ == name


def test_cloudbuild_and_monitoring_files_are_rendered_from_the_manifest() -> None:
    checked_in = (ROOT / "cloudbuild.yaml").read_text(encoding="utf-8")
    assert checked_in == render_cloudbuild(MANIFEST, ENVS), "run `pitlane deploy --render-cloudbuild`"
    assert monitoring.drift(monitoring.render_files(MANIFEST, ENVS)) == []


def test_render_check_passes_on_the_checked_in_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["deploy", "--render-cloudbuild", "--check"]) == 0
    assert "match the manifest" in capsys.readouterr().out


def test_cloudbuild_tests_before_anything_touches_the_project() -> None:
    steps = {s["id"]: s for s in CLOUDBUILD["steps"]}
    tests = {"lint", "unit-tests", "emulator-tests"}
    assert "emulators" in steps["emulator-tests"]["name"]
    assert "tests/integration" in steps["emulator-tests"]["args"][1]
    assert "PITLANE_DATA_DIR=/workspace/.testdata" in steps["emulator-tests"]["env"]  # the recorded sessions
    assert "mypy" in steps["lint"]["args"][1] and "ruff check" in steps["lint"]["args"][1]

    def upstream(step_id: str) -> set[str]:
        seen: set[str] = set()
        todo = [step_id]
        while todo:
            for dep in steps[todo.pop()]["waitFor"]:
                if dep != "-" and dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    for step_id in steps:
        if step_id not in tests | {"install", "test-data"}:  # these two only read
            assert tests <= upstream(step_id), f"{step_id} may run before the tests pass"
    deploys = [s for s in steps if s.startswith("deploy-")]
    assert all(steps[d]["waitFor"] == ["stage", "iam"] for d in deploys)  # in parallel, one bundle
    assert {"provision", "iam", "firestore-rules-indexes", "monitoring"} <= set(steps)


def test_cloudbuild_deploys_each_function_with_its_trigger() -> None:
    deploys = {
        s["id"].removeprefix("deploy-"): s["args"]
        for s in CLOUDBUILD["steps"]
        if s["id"].startswith("deploy-")
    }
    assert sorted(deploys) == sorted(MANIFEST.functions)
    for name, fn in MANIFEST.functions.items():
        args = deploys[name]
        assert args[:3] == ["functions", "deploy", name]
        assert "--gen2" in args and f"--entry-point={name}" in args and "--region=${_REGION}" in args
        assert f"--memory={MANIFEST.memory(fn)}" in args
        assert f"--timeout={MANIFEST.timeout_s(fn)}s" in args
        assert (
            f"--service-account=pitlane-{name.replace('_', '-')}@$PROJECT_ID.iam.gserviceaccount.com" in args
        )
        if isinstance(fn.trigger, TopicTrigger):
            assert f"--trigger-topic={fn.trigger.topic}" in args
            assert ("--retry" in args) is fn.retry
        else:
            assert "--trigger-http" in args
            assert ("--allow-unauthenticated" in args) is (
                fn.public and not isinstance(fn.trigger, QueueTrigger)
            )


def _resolve(text: str, values: dict[str, str]) -> str:
    # Cloud Build's rules, written out independently of infra.deploy.resolve.
    out = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text.replace("$$", "\0"))
    out = re.sub(r"\$(\w+)", lambda m: values.get(m.group(1), m.group(0)), out)
    return out.replace("\0", "$")


@pytest.mark.parametrize("env", sorted(ENVS))
def test_dry_run_is_cloudbuild_yaml_with_the_environment_substituted(env: str) -> None:
    lines = dry_run(MANIFEST, ENVS, env)
    submit = shlex.split(sections(lines)["_head"][0])
    assert submit[:3] == ["gcloud", "builds", "submit"] and "--config=cloudbuild.yaml" in submit
    assert f"--project={ENVS[env].project}" in submit
    subs = next(a for a in submit if a.startswith("--substitutions=")).removeprefix("--substitutions=")
    delimiter = ","
    if subs.startswith("^"):  # gcloud's escaping: ^D^K=V<D>K=V
        delimiter, subs = subs[1], subs[3:]
    values = dict(kv.split("=", 1) for kv in subs.split(delimiter))
    assert set(values) == set(CLOUDBUILD["substitutions"]), "every substitution is given, and only those"
    values["PROJECT_ID"] = ENVS[env].project
    by_step = sections(lines)
    assert list(by_step)[1:] == [s["id"] for s in CLOUDBUILD["steps"]]
    for step in CLOUDBUILD["steps"]:
        args = [_resolve(str(a), values) for a in step["args"]]
        if step["entrypoint"] == "bash":
            expected = [ln for ln in args[1].splitlines() if ln != "set -euo pipefail"]
        else:
            expected = [shlex.join([step["entrypoint"], *args])]
        assert by_step[step["id"]] == expected, step["id"]


def test_dry_run_lists_one_deploy_per_function_with_its_settings() -> None:
    deploys = {
        k.removeprefix("deploy-"): shlex.split(v[0])
        for k, v in sections(dry_run(MANIFEST, ENVS, "prod")).items()
        if k.startswith("deploy-")
    }
    assert sorted(deploys) == sorted(MANIFEST.functions)
    api = deploys["api"]
    assert "--min-instances=1" in api and "--allow-unauthenticated" in api and "--project=pitlane-prod" in api
    staging_api = shlex.split(sections(dry_run(MANIFEST, ENVS, "staging"))["deploy-api"][0])
    assert "--min-instances=0" in staging_api and "--max-instances=5" in staging_api
    assert "--project=pitlane-staging" in staging_api
    rlt = deploys["record_live_timing"]
    assert "--trigger-http" in rlt and "--no-allow-unauthenticated" in rlt and "--timeout=600s" in rlt
    sync = deploys["sync_schedule"]
    assert "--trigger-service-account=pitlane-sync-schedule@pitlane-prod.iam.gserviceaccount.com" in sync
    assert (
        "--set-env-vars=PITLANE_PROJECT=pitlane-prod,PITLANE_ENV=prod,PITLANE_REGION=europe-west1,"
        "PITLANE_LOG_LEVEL=INFO,PITLANE_DATA_DIR=/workspace/reference" in sync
    )


def test_optional_secrets_are_mounted_only_where_the_environment_sets_them() -> None:
    data = manifest_data()
    data["functions"]["ops_fn"] = {"trigger": {"type": "topic", "topic": "import-events"},
                                   "needs": ["secret:slack-webhook-url", "secret:openf1-token"]}  # fmt: skip
    manifest = Manifest.model_validate(data)
    envs = load_environments(manifest)

    def flags(env: str) -> list[str]:
        return shlex.split(sections(dry_run(manifest, envs, env))["deploy-ops_fn"][0])

    assert "slack-webhook-url" in envs["prod"].secrets and "slack-webhook-url" not in envs["staging"].secrets
    # Slack is set in prod only; the OpenF1 token in no environment (the free tier).
    assert "--set-secrets=PITLANE_SLACK_WEBHOOK_URL=slack-webhook-url:latest" in flags("prod")
    assert "--clear-secrets" in flags("staging")
    assert "${_OPS_FN_SECRETS}" in render_cloudbuild(manifest, envs)  # differs: a substitution
    assert "--clear-secrets" in shlex.split(sections(dry_run(MANIFEST, ENVS, "prod"))["deploy-api"][0])


def test_a_function_added_to_the_manifest_appears_with_no_other_edit() -> None:
    manifest = with_extra_functions()
    by_step = sections(dry_run(manifest, load_environments(manifest), "prod"))
    extra = shlex.split(by_step["deploy-extra_fn"][0])
    for flag in ("--trigger-topic=race-events", "--retry", "--memory=2Gi", "--timeout=77s",
                 "--service-account=pitlane-extra-fn@pitlane-prod.iam.gserviceaccount.com",
                 "--set-secrets=PITLANE_SIGNING_KEY=signing-key:latest"):  # fmt: skip
        assert flag in extra, flag
    model = "PITLANE_PREDICT_MODEL_URI=gs://pitlane-prod-pitlane-models/prerace.json"
    assert any(a.startswith("--set-env-vars=") and model in a for a in extra)
    after = "\n".join(by_step["after-deploy-extra_fn"])
    assert "add-invoker-policy-binding extra_fn" in after
    assert "--dead-letter-topic=race-events-dead-letter" in after and "--max-delivery-attempts=5" in after
    iam = "\n".join(by_step["iam"])
    assert "gcloud secrets versions list signing-key" in iam  # the deploy stops if it has no value
    assert "gcloud secrets versions list openf1-token" not in iam  # optional: off where unset
    assert "pitlane-extra-fn@" in "\n".join(by_step["service-accounts"])
    task = shlex.split(by_step["deploy-extra_task"][0])
    assert "--trigger-http" in task and "--no-allow-unauthenticated" in task and "--clear-secrets" in task
    assert "--retry" not in task


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"broken": {"trigger": {"type": "topic", "topic": "no-such-topic"}}}, "unknown topic"),
        ({"broken": {"trigger": {"type": "http"}, "needs": ["firestore.admin"]}}, "unknown need"),
        ({"broken": {"trigger": {"type": "http"}, "needs": ["pubsub.publish"]}}, "must be written"),
        ({"broken": {"trigger": {"type": "http"}, "needs": ["pubsub.publish:nope"]}}, "no such topic"),
        ({"broken": {"trigger": {"type": "http"}, "needs": ["secret:nope"]}}, "no such secret"),
        (
            {"broken": {"trigger": {"type": "http"}, "needs": ["firestore.read", "firestore.write"]}},
            "includes",
        ),
        (  # a queue no function is the target of (notify is the reminders queue's)
            {"notify": None, "broken": {"trigger": {"type": "http"}, "needs": ["tasks.enqueue:reminders"]}},
            "no function",
        ),
        ({"a_function_name_far_too_long": {"trigger": {"type": "http"}}}, "over 30 characters"),
    ],
)
def test_manifest_rejects_bad_functions(change: dict[str, Any], error: str) -> None:
    data = manifest_data()
    data["functions"].update(change)
    data["functions"] = {k: v for k, v in data["functions"].items() if v is not None}
    with pytest.raises(ValueError, match=error):
        Manifest.model_validate(data)


def test_manifest_rejects_alerts_that_do_not_fit_their_metric() -> None:
    data = manifest_data()
    data["alerts"]["x"] = {"description": "d", "metric": "ingest_lag_s", "aggregation": "sum", "threshold": 1,
                           "window_s": 60}  # fmt: skip
    with pytest.raises(ValueError, match="does not apply"):
        Manifest.model_validate(data)
    data["alerts"]["x"] |= {"aggregation": "p99", "where": {"nope": "1"}}
    with pytest.raises(ValueError, match="no label"):
        Manifest.model_validate(data)


def test_staged_bundle_has_main_at_its_root(tmp_path: Path) -> None:
    bundle = stage_bundle(tmp_path / "bundle")
    assert (bundle / "main.py").read_text().count("from functions.main import __all__, __getattr__") == 1
    assert (bundle / "requirements.txt").is_file()
    assert (bundle / "shared" / "config.py").is_file()
    assert not list(bundle.rglob("__pycache__"))
    assert not (bundle / "infra").exists() and not (bundle / "tests").exists()


@pytest.mark.skipif(load_settings().data_dir is None, reason="recorded data folder not present")
def test_staged_bundle_carries_the_reference_data_the_functions_read(tmp_path: Path) -> None:
    """The bundle holds the reference data (history, circuits, calendars, MultiViewer), not the
    recorded sessions, and a function started in it, as Cloud Functions does, with
    PITLANE_DATA_DIR at that folder, serves a circuit from it."""
    import subprocess
    import sys

    from infra.deploy import DEPLOYED_SOURCE, REFERENCE, REFERENCE_ITEMS

    data_dir = load_settings().require_data_dir
    bundle = stage_bundle(tmp_path / "bundle", data_dir)
    assert sorted(p.name for p in (bundle / REFERENCE).iterdir()) == sorted(REFERENCE_ITEMS)
    assert (bundle / REFERENCE / "history" / "races.csv").is_file()
    assert not any((bundle / REFERENCE / x).exists() for x in ("livetiming", "openf1", "jolpica", "livefeed"))
    size = sum(f.stat().st_size for f in (bundle / REFERENCE).rglob("*") if f.is_file())
    assert size < 10_000_000
    assert f"PITLANE_DATA_DIR={DEPLOYED_SOURCE}/{REFERENCE}" in (ROOT / "cloudbuild.yaml").read_text()
    script = (
        "import functions_framework\n"
        "client = functions_framework.create_app('api', 'main.py', 'http').test_client()\n"
        "resp = client.get('/api/circuits/monza')\n"
        "print(resp.status_code, resp.get_json()['time_zone'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITLANE_")}
    env |= {"PITLANE_DATA_DIR": str(bundle / REFERENCE), "PITLANE_ENV": "test", "PYTHONPATH": str(bundle)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == "200 Europe/Rome", out.stderr[-2000:]


def test_a_topic_nothing_listens_to_can_keep_its_messages_in_a_pull_subscription() -> None:
    from infra.provision import _subscription_specs, _SubSpec
    from shared.config import load_settings

    data = manifest_data()
    data["topics"].append({"name": "notify-dead-letter", "pull_subscription": True})
    settings = load_settings(**{"GOOGLE_CLOUD_PROJECT": "pitlane-prod", "PUBSUB_EMULATOR_HOST": None})
    specs = [
        s for s in _subscription_specs(Manifest.model_validate(data), settings, {}) if isinstance(s, _SubSpec)
    ]
    pulls = {s.name: s.topic for s in specs if not s.push_endpoint}
    assert pulls["notify-dead-letter-sub"] == "projects/pitlane-prod/topics/notify-dead-letter"
    assert pulls["race-events-dead-letter-sub"] == "projects/pitlane-prod/topics/race-events-dead-letter"
