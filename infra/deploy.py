"""Deploying from the manifest: the staged source bundle, the deploy commands, cloudbuild.yaml.

``cloudbuild.yaml`` is rendered from the manifest (``pitlane deploy --render-cloudbuild``) and a
test fails when the checked-in file drifts from it, so adding a function to the manifest is the
only edit a new deploy needs (then re-render).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from infra.manifest import Function, Manifest, QueueTrigger, TopicTrigger, load_manifest

ROOT = Path(__file__).resolve().parent.parent
CLOUDBUILD = ROOT / "cloudbuild.yaml"
BUNDLE_MAIN = '"""Cloud Functions entry module: every deployed function."""\n\nfrom functions.main import *  # noqa: F403\n'
BUNDLE_ITEMS = ("functions", "shared", "requirements.txt")


def service_account(fn: Function, project: str) -> str:
    """Each function runs as its own service account (least privilege, see infra/)."""
    return f"pitlane-{fn.name.replace('_', '-')}@{project}.iam.gserviceaccount.com"


def deploy_args(
    manifest: Manifest, fn: Function, *, project: str, region: str, env: str, source: str
) -> list[str]:
    """``gcloud functions deploy`` arguments for one function (2nd gen)."""
    args = [
        "functions", "deploy", fn.name,
        "--gen2",
        f"--project={project}",
        f"--region={region}",
        f"--runtime={manifest.defaults.runtime}",
        f"--source={source}",
        f"--entry-point={fn.name}",
        f"--memory={manifest.memory(fn)}",
        f"--timeout={manifest.timeout_s(fn)}s",
        f"--service-account={service_account(fn, project)}",
        f"--min-instances={fn.min_instances}",
        f"--max-instances={fn.max_instances or manifest.defaults.max_instances}",
        f"--set-env-vars=PITLANE_ENV={env},PITLANE_REGION={region}",
    ]  # fmt: skip
    if isinstance(fn.trigger, TopicTrigger):
        args.append(f"--trigger-topic={fn.trigger.topic}")
        args.append("--retry" if fn.retry else "--no-retry")
    else:
        args.append("--trigger-http")
        # Queue-triggered functions are called by Cloud Tasks with an OIDC token: never public.
        public = fn.public and not isinstance(fn.trigger, QueueTrigger)
        args.append("--allow-unauthenticated" if public else "--no-allow-unauthenticated")
    return args


def deploy_commands(
    manifest: Manifest, *, project: str, region: str, env: str, source: str
) -> list[list[str]]:
    return [
        ["gcloud", *deploy_args(manifest, fn, project=project, region=region, env=env, source=source)]
        for fn in manifest.functions.values()
    ]


def stage_bundle(dest: Path) -> Path:
    """Copy what Cloud Functions needs into ``dest`` with ``main.py`` at its root."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in BUNDLE_ITEMS:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        else:
            shutil.copy2(src, dest / item)
    (dest / "main.py").write_text(BUNDLE_MAIN, encoding="utf-8")
    return dest


def render_cloudbuild(manifest: Manifest) -> str:
    """The Cloud Build pipeline: checks, tests with emulators, bundle, deploys, provisioning."""
    py = "python:3.11-slim"
    venv_py = "/workspace/.venv/bin/python"
    steps: list[dict[str, Any]] = [
        {"id": "install", "name": py, "entrypoint": "bash",
         "args": ["-c", "python -m venv /workspace/.venv && /workspace/.venv/bin/pip install -q -r requirements.txt -e '.[dev]'"]},
        {"id": "lint", "name": py, "entrypoint": "bash", "waitFor": ["install"],
         "args": ["-c", "/workspace/.venv/bin/ruff check shared functions infra tests && /workspace/.venv/bin/mypy"]},
        {"id": "unit-tests", "name": py, "entrypoint": venv_py, "waitFor": ["install"],
         "args": ["-m", "pytest", "tests/unit", "-q"]},
        # The emulators image carries Java and Google's Firestore and Pub/Sub emulators.
        {"id": "emulator-tests", "name": "gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators",
         "entrypoint": "bash", "waitFor": ["lint", "unit-tests"],
         "args": ["-c", "apt-get update -qq && apt-get install -y -qq make python3-venv >/dev/null && make test"]},
        {"id": "stage", "name": py, "entrypoint": venv_py, "waitFor": ["emulator-tests"],
         "args": ["-m", "infra.cli", "deploy", "--stage", "/workspace/bundle"]},
    ]  # fmt: skip
    for fn in manifest.functions.values():
        args = deploy_args(
            manifest,
            fn,
            project="$PROJECT_ID",
            region="${_REGION}",
            env="${_ENV}",
            source="/workspace/bundle",
        )
        steps.append(
            {"id": f"deploy-{fn.name}", "name": "gcr.io/google.com/cloudsdktool/cloud-sdk:slim",
             "entrypoint": "gcloud", "waitFor": ["stage", "provision"], "args": args}
        )  # fmt: skip
    steps[5:5] = [
        {"id": "provision", "name": py, "entrypoint": venv_py, "waitFor": ["emulator-tests"],
         "env": ["GOOGLE_CLOUD_PROJECT=$PROJECT_ID", "PITLANE_REGION=${_REGION}", "PITLANE_ENV=${_ENV}"],
         "args": ["-m", "infra.cli", "provision"]},
        {"id": "firestore-rules-indexes", "name": "node:20-slim", "entrypoint": "bash", "waitFor": ["emulator-tests"],
         "args": ["-c", "echo '{\"firestore\":{\"rules\":\"firestore.rules\",\"indexes\":\"firestore.indexes.json\"}}'"
                  " > firebase.json && npx -y firebase-tools@13 deploy --only firestore"
                  " --project $PROJECT_ID --non-interactive"]},
    ]  # fmt: skip
    doc = {
        "substitutions": {"_REGION": manifest.defaults.region, "_ENV": "prod"},
        "options": {"logging": "CLOUD_LOGGING_ONLY", "machineType": "E2_HIGHCPU_8"},
        "timeout": "3600s",
        "steps": steps,
    }
    header = (
        "# Rendered from infra/manifest.yaml by `pitlane deploy --render-cloudbuild`; do not edit by hand.\n"
        "# tests/unit/test_deploy_manifest.py fails when this file and the manifest disagree.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=200)


def _run(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    if args.render_cloudbuild:
        text = render_cloudbuild(manifest)
        if args.check:
            if CLOUDBUILD.read_text(encoding="utf-8") != text:
                print(
                    "cloudbuild.yaml is out of date: run `pitlane deploy --render-cloudbuild`",
                    file=sys.stderr,
                )
                return 1
            print("cloudbuild.yaml matches the manifest")
            return 0
        CLOUDBUILD.write_text(text, encoding="utf-8")
        print(f"wrote {CLOUDBUILD.relative_to(ROOT)} ({len(manifest.functions)} functions)")
        return 0
    if args.stage:
        print(f"staged {stage_bundle(Path(args.stage))}")
        return 0
    project = args.project or "$PROJECT_ID"
    region = args.region or manifest.defaults.region
    for cmd in deploy_commands(
        manifest, project=project, region=region, env=args.env, source="/workspace/bundle"
    ):
        print(shlex.join(cmd))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "deploy", help="deploy commands from the manifest (dry run), bundle staging, cloudbuild.yaml"
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="print every deploy command, run nothing")
    mode.add_argument(
        "--render-cloudbuild", action="store_true", help="write cloudbuild.yaml from the manifest"
    )
    mode.add_argument("--stage", metavar="DIR", help="stage the source bundle (main.py at its root) in DIR")
    p.add_argument("--check", action="store_true", help="with --render-cloudbuild: fail if the file is stale")
    p.add_argument("--env", default="prod", choices=["staging", "prod"])
    p.add_argument("--project", default=None)
    p.add_argument("--region", default=None)
    p.set_defaults(func=_run)
