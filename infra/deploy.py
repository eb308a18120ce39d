"""Deploying from the manifest: cloudbuild.yaml, the dry run, the staged bundle, the bootstrap.

``cloudbuild.yaml`` is rendered from the manifest and the environments (``pitlane deploy
--render-cloudbuild``, which also renders ``infra/monitoring/``) and a test fails when the
checked-in files drift, so adding a function to the manifest is the only edit a new deploy needs
(then re-render). The pipeline: lint and types, unit tests and emulator tests (nothing touches the
project before all three pass); then, in parallel, the staged bundle, provisioning (topics,
subscriptions, queues, jobs: ``pitlane provision``), service accounts, buckets and secrets, IAM
bindings, Firestore rules and indexes, log-based metrics and alert policies; then every function
deploys in parallel from the one bundle the tests ran on, and its invoker and dead-letter
bindings follow.

What differs per environment (``infra/env/<env>.yaml``) reaches the build as substitutions:
``_ENV``, ``_REGION``, ``_LOG_LEVEL``, and ``_<FUNCTION>_MIN_INSTANCES``/``_MAX_INSTANCES``/
``_SECRETS`` for a function whose instance counts or mounted secrets (optional secrets are set per
environment) differ between environments; prod's values are the defaults.
``pitlane deploy --dry-run --env ENV`` prints the ``gcloud builds submit`` that runs the build for
ENV, then every step's commands with ENV's values substituted.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from infra import iam, monitoring
from infra.manifest import (
    Environment,
    Function,
    Manifest,
    QueueTrigger,
    TopicTrigger,
    environment_names,
    load_environment,
    load_environments,
    load_manifest,
)

ROOT = Path(__file__).resolve().parent.parent
CLOUDBUILD = ROOT / "cloudbuild.yaml"
BUNDLE_MAIN = (
    '"""Cloud Functions entry module: every deployed function, imported when asked for."""\n\n'
    "from functions.main import __all__, __getattr__  # noqa: F401\n"
)
BUNDLE_ITEMS = ("functions", "shared", "requirements.txt")
# Reference data the functions read at run time (``PITLANE_DATA_DIR``): the Ergast-schema history
# (circuit history, the prediction model), circuit layouts and locations, the supporting series'
# calendars and MultiViewer circuit info. About 4.5 MB, staged into the bundle under REFERENCE; the
# recorded sessions (archive, live feed, OpenF1) stay out: only tests replay them.
REFERENCE_ITEMS = ("history", "circuits", "calendars", "multiviewer")
REFERENCE = "reference"
DEPLOYED_SOURCE = "/workspace"  # where Cloud Functions (2nd gen, buildpacks) puts the bundle
BUNDLE = "/workspace/bundle"
PY_IMAGE = "python:3.11-slim"
GCLOUD_IMAGE = "gcr.io/google.com/cloudsdktool/google-cloud-cli:latest"  # has the alpha commands
EMULATORS_IMAGE = "gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators"  # Java + emulators
NODE_IMAGE = "node:22-slim"
FIREBASE_TOOLS = iam.FIREBASE_TOOLS
VENV_PY = "/workspace/.venv/bin/python"
TEST_DATA_DIR = "/workspace/.testdata"
TESTS = ["lint", "unit-tests", "emulator-tests"]
BUILTIN_SUBSTITUTIONS = ("PROJECT_ID",)  # what the dry run fills in; $BUILD_ID etc. stay as written
_SUBSTITUTION = re.compile(r"\$\$|\$\{(\w+)\}|\$(\w+)")


def service_account(fn: Function, project: str) -> str:
    """Each function runs as its own service account (``infra/iam.py``)."""
    return iam.sa_email(fn.service_account_id, project)


def deploy_args(
    manifest: Manifest,
    fn: Function,
    *,
    project: str,
    region: str,
    env: str,
    log_level: str,
    min_instances: str,
    max_instances: str,
    secrets: str,
    source: str,
) -> list[str]:
    """``gcloud functions deploy`` arguments for one function (2nd gen); ``secrets`` is the whole
    secrets flag (:func:`secrets_flag`)."""
    env_vars = [f"PITLANE_PROJECT={project}", f"PITLANE_ENV={env}", f"PITLANE_REGION={region}",
                f"PITLANE_LOG_LEVEL={log_level}", f"PITLANE_DATA_DIR={DEPLOYED_SOURCE}/{REFERENCE}"]  # fmt: skip
    env_vars += [
        f"{manifest.bucket(b).env}={iam.bucket_setting(manifest.bucket(b), project)}"
        for b in sorted({*fn.needs_of("storage.read"), *fn.needs_of("storage.write")})
        if manifest.bucket(b).env
    ]
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
        f"--build-service-account=projects/{project}/serviceAccounts/{iam.sa_email(iam.BUILDER_ID, project)}",
        f"--min-instances={min_instances}",
        f"--max-instances={max_instances}",
        f"--set-env-vars={','.join(env_vars)}",
        secrets,
    ]  # fmt: skip
    if isinstance(fn.trigger, TopicTrigger):
        args.append(f"--trigger-topic={fn.trigger.topic}")
        args.append(f"--trigger-service-account={service_account(fn, project)}")
        if fn.retry:
            args.append("--retry")  # gcloud has no --no-retry: leaving it out turns retries off
    else:
        args.append("--trigger-http")
        # Queue-triggered functions are called by Cloud Tasks with an OIDC token: never public.
        public = fn.public and not isinstance(fn.trigger, QueueTrigger)
        args.append("--allow-unauthenticated" if public else "--no-allow-unauthenticated")
    return args


# --- environments as substitutions ---------------------------------------------------------------


def secrets_flag(manifest: Manifest, env: Environment, fn: Function) -> str:
    """``--set-secrets=ENV=secret:latest,...`` for what ``fn`` mounts in ``env``, else ``--clear-secrets``
    (a secret dropped from the needs is unmounted)."""
    mounts = [f"{manifest.secret(s).env}={s}:latest" for s in env.mounted_secrets(manifest, fn)]
    return f"--set-secrets={','.join(mounts)}" if mounts else "--clear-secrets"


def _per_function(manifest: Manifest, envs: dict[str, Environment]) -> dict[str, dict[str, str]]:
    """substitution -> env -> value, for the deploy values that differ between environments."""
    out: dict[str, dict[str, str]] = {}
    for fn in manifest.functions.values():
        for what, value in (
            ("MIN_INSTANCES", lambda e, f=fn: e.min_instances(f)),
            ("MAX_INSTANCES", lambda e, f=fn: e.max_instances(manifest, f)),
            ("SECRETS", lambda e, f=fn: secrets_flag(manifest, e, f)),
        ):
            values = {name: str(value(env)) for name, env in envs.items()}
            if len(set(values.values())) > 1:
                out[f"_{fn.name.upper()}_{what}"] = values
    return out


def substitutions(manifest: Manifest, envs: dict[str, Environment], env: str) -> dict[str, str]:
    """The user substitutions of cloudbuild.yaml with ``env``'s values."""
    e = envs[env]
    values = {"_ENV": e.name, "_REGION": e.region_or(manifest), "_LOG_LEVEL": e.log_level}
    values |= {key: per_env[env] for key, per_env in _per_function(manifest, envs).items()}
    return values


def resolve(text: str, values: dict[str, str]) -> str:
    """Cloud Build's substitution: ``$NAME``/``${NAME}`` from ``values`` (others kept), ``$$`` -> ``$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return _SUBSTITUTION.sub(sub, text)


# --- cloudbuild.yaml -----------------------------------------------------------------------------


def _bash(step_id: str, image: str, wait: list[str], lines: list[str], **extra: Any) -> dict[str, Any]:
    script = "\n".join(["set -euo pipefail", *lines]) if len(lines) > 1 else lines[0]
    return {
        "id": step_id,
        "name": image,
        "entrypoint": "bash",
        "waitFor": wait,
        "args": ["-c", script],
        **extra,
    }


def cloudbuild_doc(manifest: Manifest, envs: dict[str, Environment]) -> dict[str, Any]:
    """The Cloud Build pipeline as a document (see the module docstring)."""
    per_fn = _per_function(manifest, envs)
    deployer = iam.sa_email(iam.DEPLOYER_ID)
    data = [f"PITLANE_DATA_DIR={TEST_DATA_DIR}"]
    steps: list[dict[str, Any]] = [
        _bash("install", PY_IMAGE, ["-"], [
            f"python -m venv /workspace/.venv && {VENV_PY} -m pip install -q -r requirements.txt -e '.[dev]'"]),
        # The recorded sessions the tests replay live beside the checkout (../shared/data), not in
        # it: the bootstrap copies them to a bucket of the project once.
        _bash("test-data", GCLOUD_IMAGE, ["-"], [
            f"mkdir -p {TEST_DATA_DIR} && gcloud storage rsync --recursive gs://{iam.TEST_DATA_BUCKET} {TEST_DATA_DIR}"]),
        _bash("lint", PY_IMAGE, ["install"], [
            "/workspace/.venv/bin/ruff check shared functions infra tests",
            "/workspace/.venv/bin/ruff format --check shared functions infra tests",
            "/workspace/.venv/bin/mypy",
            f"{VENV_PY} -m infra.cli deploy --render-cloudbuild --check"]),
        {"id": "unit-tests", "name": PY_IMAGE, "entrypoint": VENV_PY, "waitFor": ["install", "test-data"],
         "env": data, "args": ["-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"]},
        # Google's image with Java and the Firestore and Pub/Sub emulators; a venv of its own.
        _bash("emulator-tests", EMULATORS_IMAGE, ["install", "test-data"], [
            "apt-get update -qq && apt-get install -y -qq make python3-venv >/dev/null",
            "make VENV=.venv-emulators setup",
            ".venv-emulators/bin/python -m pytest tests/integration tests/function -q -p no:cacheprovider"],
            env=data),
        {"id": "stage", "name": PY_IMAGE, "entrypoint": VENV_PY, "waitFor": TESTS, "env": data,
         "args": ["-m", "infra.cli", "deploy", "--stage", BUNDLE]},
        {"id": "provision", "name": PY_IMAGE, "entrypoint": VENV_PY, "waitFor": TESTS,
         "env": ["GOOGLE_CLOUD_PROJECT=$PROJECT_ID", "PITLANE_REGION=${_REGION}", "PITLANE_ENV=${_ENV}"],
         "args": ["-m", "infra.cli", "provision"]},
        _bash("service-accounts", GCLOUD_IMAGE, TESTS, iam.service_accounts_script(manifest)),
        _bash("storage-secrets", GCLOUD_IMAGE, TESTS, iam.storage_secrets_script(manifest)),
        _bash("iam", GCLOUD_IMAGE, ["service-accounts", "storage-secrets", "provision"], iam.iam_script(manifest)),
        _bash("firestore-rules-indexes", NODE_IMAGE, TESTS, [
            """echo '{"firestore":{"rules":"firestore.rules","indexes":"firestore.indexes.json"}}' > firebase.json""",
            f"npx -y {FIREBASE_TOOLS} deploy --only firestore --project $PROJECT_ID --non-interactive"]),
        _bash("monitoring", GCLOUD_IMAGE, TESTS, monitoring.script(manifest, ROOT)),
    ]  # fmt: skip
    for fn in manifest.functions.values():

        def value(what: str, literal: object, fn: Function = fn) -> str:
            key = f"_{fn.name.upper()}_{what}"
            return f"${{{key}}}" if key in per_fn else str(literal)

        prod = envs["prod"]
        args = deploy_args(
            manifest, fn, project="$PROJECT_ID", region="${_REGION}", env="${_ENV}", log_level="${_LOG_LEVEL}",
            min_instances=value("MIN_INSTANCES", prod.min_instances(fn)),
            max_instances=value("MAX_INSTANCES", prod.max_instances(manifest, fn)),
            secrets=value("SECRETS", secrets_flag(manifest, prod, fn)),
            source=BUNDLE,
        )  # fmt: skip
        steps.append({"id": f"deploy-{fn.name}", "name": GCLOUD_IMAGE, "entrypoint": "gcloud",
                      "waitFor": ["stage", "iam"], "args": args})  # fmt: skip
        after = iam.after_deploy_script(manifest, fn)
        if after:
            steps.append(_bash(f"after-deploy-{fn.name}", GCLOUD_IMAGE, [f"deploy-{fn.name}"], after))
    return {
        "substitutions": substitutions(manifest, envs, "prod"),
        "serviceAccount": f"projects/$PROJECT_ID/serviceAccounts/{deployer}",
        "options": {"logging": "CLOUD_LOGGING_ONLY", "machineType": "E2_HIGHCPU_8"},
        "timeout": "3600s",
        "steps": steps,
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


def render_cloudbuild(manifest: Manifest, envs: dict[str, Environment] | None = None) -> str:
    doc = cloudbuild_doc(manifest, envs if envs is not None else load_environments(manifest))
    header = (
        "# Rendered from infra/manifest.yaml and infra/env/ by `pitlane deploy --render-cloudbuild`; do not edit.\n"
        "# Run it with the command `pitlane deploy --dry-run --env ENV` prints first.\n"
    )
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=200)


# --- the dry run ---------------------------------------------------------------------------------


def step_commands(step: dict[str, Any], values: dict[str, str] | None = None) -> list[str]:
    """A step's commands as shell lines (a ``bash -c`` script: its lines), with ``values``
    substituted as Cloud Build would (none: as written in cloudbuild.yaml)."""
    args = [resolve(str(a), values) if values is not None else str(a) for a in step.get("args", [])]
    if step.get("entrypoint") == "bash" and args[:1] == ["-c"]:
        return [line for line in args[1].splitlines() if line != "set -euo pipefail"]
    return [shlex.join([step["entrypoint"], *args])]


def dry_run(
    manifest: Manifest, envs: dict[str, Environment], env: str, project: str | None = None
) -> list[str]:
    """The build command for ``env`` and every command of every step, with ``env``'s values."""
    e = envs[env]
    project = project or e.project
    values = substitutions(manifest, envs, env)
    doc = cloudbuild_doc(manifest, envs)
    pairs = [f"{k}={v}" for k, v in values.items()]
    # A value holding a comma (two secrets) needs gcloud's other delimiter (`gcloud topic escaping`).
    subs = "^;^" + ";".join(pairs) if any("," in v for v in values.values()) else ",".join(pairs)
    lines = [
        f"# pitlane deploy --env {env}: project {project}, region {values['_REGION']}, "
        f"{len(manifest.functions)} functions, {len(doc['steps'])} build steps",
        shlex.join(
            [
                "gcloud",
                "builds",
                "submit",
                f"--project={project}",
                "--config=cloudbuild.yaml",
                f"--substitutions={subs}",
                ".",
            ]
        ),
    ]
    values = values | {"PROJECT_ID": project}
    for step in doc["steps"]:
        lines.append(f"# step {step['id']} ({step['name']}; after {', '.join(step['waitFor'])})")
        lines += step_commands(step, values)
    return lines


# --- the bundle ----------------------------------------------------------------------------------


def stage_bundle(dest: Path, data_dir: Path | None = None) -> Path:
    """Copy what Cloud Functions needs into ``dest`` with ``main.py`` at its root, and the reference
    data of ``data_dir`` (:data:`REFERENCE_ITEMS`) under ``dest/reference``."""
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
    if data_dir is not None:
        for item in REFERENCE_ITEMS:
            if (data_dir / item).is_dir():
                shutil.copytree(data_dir / item, dest / REFERENCE / item, ignore=ignore)
    (dest / REFERENCE).mkdir(exist_ok=True)  # PITLANE_DATA_DIR must exist, even with nothing in it
    return dest


# --- the command line ----------------------------------------------------------------------------


def _render(manifest: Manifest, envs: dict[str, Environment], check: bool) -> int:
    text = render_cloudbuild(manifest, envs)
    files = monitoring.render_files(manifest, envs)
    if check:
        stale = ([CLOUDBUILD] if CLOUDBUILD.read_text(encoding="utf-8") != text else []) + monitoring.drift(
            files
        )
        if stale:
            names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
            print(f"out of date: {names}: run `pitlane deploy --render-cloudbuild`", file=sys.stderr)
            return 1
        print("cloudbuild.yaml and infra/monitoring/ match the manifest")
        return 0
    CLOUDBUILD.write_text(text, encoding="utf-8")
    changed = monitoring.write_files(files)
    print(f"wrote {CLOUDBUILD.relative_to(ROOT)} ({len(manifest.functions)} functions) and "
          f"{len(files)} monitoring files ({len(changed)} changed)")  # fmt: skip
    return 0


def _run(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    envs = load_environments(manifest)
    if args.render_cloudbuild:
        return _render(manifest, envs, args.check)
    if args.stage:
        from shared.config import load_settings

        data_dir = load_settings().data_dir
        print(f"staged {stage_bundle(Path(args.stage), data_dir)} (reference data from {data_dir})")
        return 0
    env = load_environment(args.env, manifest)
    project = args.project or env.project
    if args.bootstrap:
        print(f"# {project}: once, by an owner, from this checkout (../shared/data beside it): the account")
        print(
            "# cloudbuild.yaml runs as, the Firestore database, Firebase, the recorded sessions the tests replay"
        )
        print("\n".join(iam.bootstrap_commands(project, env.region_or(manifest))))
        return 0
    print("\n".join(dry_run(manifest, envs, args.env, project)))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "deploy", help="deploy commands from the manifest (dry run), cloudbuild.yaml, bundle, bootstrap"
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="print the build and every command it runs")
    mode.add_argument(
        "--render-cloudbuild", action="store_true", help="write cloudbuild.yaml and infra/monitoring/"
    )
    mode.add_argument("--stage", metavar="DIR", help="stage the source bundle (main.py at its root) in DIR")
    mode.add_argument("--bootstrap", action="store_true", help="print the one-time deployer setup")
    p.add_argument("--check", action="store_true", help="with --render-cloudbuild: fail if a file is stale")
    p.add_argument("--env", default="prod", choices=environment_names(), help="infra/env/<ENV>.yaml")
    p.add_argument("--project", default=None, help="override the environment's project")
    p.set_defaults(func=_run)
