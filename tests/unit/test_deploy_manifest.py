"""The manifest, functions/main.py and cloudbuild.yaml agree; the manifest is well-formed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import functions.main as entry_points
from infra.deploy import ROOT, deploy_commands, render_cloudbuild, stage_bundle
from infra.manifest import Manifest, TopicTrigger, load_manifest

MANIFEST = load_manifest()


def test_every_manifest_function_is_exported_by_main_and_nothing_else() -> None:
    assert sorted(entry_points.__all__) == sorted(MANIFEST.functions)
    for name in MANIFEST.functions:
        assert callable(getattr(entry_points, name)), name
        assert getattr(entry_points, name).__name__ == name


def test_cloudbuild_is_rendered_from_the_manifest() -> None:
    checked_in = (ROOT / "cloudbuild.yaml").read_text(encoding="utf-8")
    assert checked_in == render_cloudbuild(MANIFEST), "run `pitlane deploy --render-cloudbuild`"


def test_cloudbuild_deploys_each_function_with_its_trigger() -> None:
    doc = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
    deploys = {
        s["id"].removeprefix("deploy-"): s["args"] for s in doc["steps"] if s["id"].startswith("deploy-")
    }
    assert sorted(deploys) == sorted(MANIFEST.functions)
    for name, fn in MANIFEST.functions.items():
        args = deploys[name]
        assert args[:3] == ["functions", "deploy", name]
        assert "--gen2" in args and f"--entry-point={name}" in args
        assert f"--memory={MANIFEST.memory(fn)}" in args
        assert f"--timeout={MANIFEST.timeout_s(fn)}s" in args
        if isinstance(fn.trigger, TopicTrigger):
            assert f"--trigger-topic={fn.trigger.topic}" in args
            assert ("--retry" in args) is fn.retry
        else:
            assert "--trigger-http" in args
    ids = [s["id"] for s in doc["steps"]]
    for needed in ("lint", "unit-tests", "emulator-tests", "stage", "provision", "firestore-rules-indexes"):
        assert needed in ids


def test_dry_run_lists_one_deploy_per_function_and_follows_the_manifest() -> None:
    data = yaml.safe_load((ROOT / "infra" / "manifest.yaml").read_text(encoding="utf-8"))
    data["functions"]["extra_fn"] = {"trigger": {"type": "topic", "topic": "race-events"}, "retry": True}
    manifest = Manifest.model_validate(data)
    cmds = deploy_commands(manifest, project="p", region="r", env="prod", source="/b")
    names = [c[3] for c in cmds]
    assert names == [*MANIFEST.functions, "extra_fn"]
    extra = cmds[-1]
    assert "--trigger-topic=race-events" in extra and "--retry" in extra
    assert "--service-account=pitlane-extra-fn@p.iam.gserviceaccount.com" in extra


def test_manifest_rejects_dangling_references() -> None:
    data = yaml.safe_load((ROOT / "infra" / "manifest.yaml").read_text(encoding="utf-8"))
    data["functions"]["broken"] = {"trigger": {"type": "topic", "topic": "no-such-topic"}}
    with pytest.raises(ValueError, match="unknown topic"):
        Manifest.model_validate(data)


def test_staged_bundle_has_main_at_its_root(tmp_path: Path) -> None:
    bundle = stage_bundle(tmp_path / "bundle")
    assert (bundle / "main.py").read_text().count("from functions.main import *") == 1
    assert (bundle / "requirements.txt").is_file()
    assert (bundle / "shared" / "config.py").is_file()
    assert not list(bundle.rglob("__pycache__"))
