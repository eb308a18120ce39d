"""Least privilege: each function's service account holds exactly the roles its manifest needs map
to, on the narrowest resource, as cloudbuild.yaml grants them; and the needs match the code.

The expected roles are written out here on purpose (not imported from infra/iam.py): this is the
specification the rendered pipeline is checked against.
"""

from __future__ import annotations

import ast
import shlex
from collections import defaultdict
from typing import Any

import pytest
import yaml

from infra.deploy import ROOT
from infra.manifest import Function, Manifest, QueueTrigger, TopicTrigger, load_manifest
from shared import tasks
from shared.config import Settings, load_settings

MANIFEST = load_manifest()
CLOUDBUILD = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
SA = "serviceAccount:{}@$PROJECT_ID.iam.gserviceaccount.com"
# need kind -> (resource kind, role): the smallest predefined role for that use.
SPEC = {
    "firestore.read": ("project", "roles/datastore.viewer"),
    "firestore.write": ("project", "roles/datastore.user"),
    "pubsub.publish": ("topic", "roles/pubsub.publisher"),
    "tasks.enqueue": ("queue", "roles/cloudtasks.enqueuer"),
    "secret": ("secret", "roles/secretmanager.secretAccessor"),
    "storage.read": ("bucket", "roles/storage.objectViewer"),
    "storage.write": ("bucket", "roles/storage.objectUser"),
    "fcm.send": ("project", "roles/firebasecloudmessaging.admin"),
}
Grant = tuple[str, str, str]  # (resource kind, resource, role)


def granted(doc: dict[str, Any]) -> dict[str, set[Grant]]:
    """member -> grants, read from the gcloud commands of cloudbuild.yaml."""
    out: dict[str, set[Grant]] = defaultdict(set)
    kinds = {("projects",): "project", ("pubsub", "topics"): "topic", ("tasks", "queues"): "queue",
             ("secrets",): "secret", ("storage", "buckets"): "bucket", ("functions",): "function",
             ("iam", "service-accounts"): "service-account",
             ("pubsub", "subscriptions"): "subscription"}  # fmt: skip
    for step in doc["steps"]:
        args = [str(a) for a in step["args"]]
        lines = args[1].splitlines() if step["entrypoint"] == "bash" else [shlex.join(["gcloud", *args])]
        for line in lines:
            words = shlex.split(line.replace("$$", "$")) if "policy-binding" in line else []
            if not words or words[0] != "gcloud":
                continue
            verb = next(i for i, w in enumerate(words) if w.endswith("policy-binding"))
            flags = dict(w.split("=", 1) for w in words if w.startswith("--") and "=" in w)
            role = flags.get("--role", "roles/run.invoker")  # add-invoker-policy-binding has no --role
            out[flags["--member"]].add((kinds[tuple(words[1:verb])], words[verb + 1], role))
    return out


GRANTED = granted(CLOUDBUILD)


def expected(manifest: Manifest, fn: Function) -> set[Grant]:
    out: set[Grant] = set()
    for need in fn.needs:
        kind, role = SPEC[need.kind]
        resource = {"project": "$PROJECT_ID", "bucket": f"gs://$PROJECT_ID-pitlane-{need.resource}"}.get(
            kind, need.resource
        )
        out.add((kind, resource, role))
        for target in manifest.queue_targets(need.resource) if need.kind == "tasks.enqueue" else []:
            # Cloud Tasks mints the target's OIDC token for the enqueuer: act-as on that one account.
            email = f"{target.service_account_id}@$PROJECT_ID.iam.gserviceaccount.com"
            out.add(("service-account", email, "roles/iam.serviceAccountUser"))
    if isinstance(fn.trigger, QueueTrigger | TopicTrigger):
        out.add(("function", fn.name, "roles/run.invoker"))  # Cloud Tasks' and Eventarc's calls
    return out


@pytest.mark.parametrize("name", sorted(MANIFEST.functions))
def test_each_account_holds_exactly_what_its_needs_map_to(name: str) -> None:
    fn = MANIFEST.functions[name]
    assert GRANTED[SA.format(fn.service_account_id)] == expected(MANIFEST, fn)


def test_act_as_is_granted_only_on_the_accounts_of_tasks_a_function_enqueues() -> None:
    act_as = {
        (member, resource)
        for member, grants in GRANTED.items()
        for kind, resource, role in grants
        if role == "roles/iam.serviceAccountUser"
    }
    want = {
        (SA.format(fn.service_account_id), f"{target.service_account_id}@$PROJECT_ID.iam.gserviceaccount.com")
        for fn in MANIFEST.functions.values()
        for queue in fn.needs_of("tasks.enqueue")
        for target in MANIFEST.queue_targets(queue)
    }
    assert act_as == want
    assert ("queue", "live-timing", "roles/cloudtasks.enqueuer") in GRANTED[
        SA.format("pitlane-sync-schedule")
    ]


def test_no_account_of_the_pipeline_holds_a_broad_role() -> None:
    broad = {"roles/owner", "roles/editor", "roles/viewer", "roles/datastore.owner", "roles/pubsub.admin",
             "roles/pubsub.editor", "roles/storage.admin", "roles/secretmanager.admin",
             "roles/cloudtasks.admin", "roles/iam.serviceAccountTokenCreator"}  # fmt: skip
    project_roles = {role for grants in GRANTED.values() for kind, _, role in grants if kind == "project"}
    assert project_roles <= {
        "roles/datastore.viewer",
        "roles/datastore.user",
        "roles/cloudbuild.builds.builder",
        # FCM sends need cloudmessaging.messages.create, granted on the project only; held only by
        # the accounts whose function declares fcm.send
        "roles/firebasecloudmessaging.admin",
    }
    fcm = {
        sa
        for sa, grants in GRANTED.items()
        if any(r == "roles/firebasecloudmessaging.admin" for *_, r in grants)
    }
    assert fcm == {
        SA.format(fn.service_account_id) for fn in MANIFEST.functions.values() if fn.needs_of("fcm.send")
    }
    assert not {role for grants in GRANTED.values() for *_, role in grants} & broad
    accounts = {fn.service_account_id for fn in MANIFEST.functions.values()}
    assert len(accounts) == len(MANIFEST.functions), "one account per function"


def test_a_function_added_with_needs_gets_exactly_those_grants() -> None:
    from infra.deploy import cloudbuild_doc
    from infra.manifest import load_environments

    data = yaml.safe_load((ROOT / "infra" / "manifest.yaml").read_text(encoding="utf-8"))
    data["functions"]["predict_x"] = {
        "trigger": {"type": "topic", "topic": "race-events"},
        "needs": [
            "firestore.write",
            "storage.read:models",
            "secret:slack-webhook-url",
            "tasks.enqueue:imports",
        ],
    }
    manifest = Manifest.model_validate(data)
    grants = granted(cloudbuild_doc(manifest, load_environments(manifest)))
    fn = manifest.functions["predict_x"]
    assert grants[SA.format("pitlane-predict-x")] == expected(manifest, fn) | {
        (
            "service-account",
            "pitlane-import-session@$PROJECT_ID.iam.gserviceaccount.com",
            "roles/iam.serviceAccountUser",
        )
    }


def test_tasks_are_created_with_the_token_of_the_target_functions_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[Any] = []

    class FakeTasks:
        def create_task(self, *, parent: str, task: Any) -> Any:
            created.append(task)
            return task

    monkeypatch.setattr(tasks, "tasks_client", lambda settings: FakeTasks())
    settings = load_settings(**{"GOOGLE_CLOUD_PROJECT": "pitlane-prod", "tasks_emulator_host": None})
    for fn in MANIFEST.functions.values():
        if isinstance(fn.trigger, QueueTrigger):
            tasks.enqueue_http(settings, queue=fn.trigger.queue, function=fn.name, body={})
            email = created[-1].http_request.oidc_token.service_account_email
            assert email == f"{fn.service_account_id}@pitlane-prod.iam.gserviceaccount.com"


# --- the needs match the code --------------------------------------------------------------------


def _modules() -> dict[str, ast.Module]:
    out = {}
    for top in ("shared", "functions"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


MODULES = _modules()
# Decorators that do not register the function somewhere at import time.
_PLAIN_DECORATORS = {"lru_cache", "cache", "cached_property", "contextmanager", "wraps", "overload",
                     "staticmethod", "classmethod", "property", "abstractmethod"}  # fmt: skip


class Uses:
    """What a function's code can reach, by name: from its entry point, every function, class and
    module constant it references, across shared/ and functions/ (a class is reached whole, and so
    is a function registered by a decorator when its module is imported, such as an API route).
    Collected: calls by name, attribute names, string constants, third-party modules imported."""

    def __init__(self, function: str) -> None:
        self.calls: set[str] = set()
        self.attributes: set[str] = set()
        self.strings: set[str] = set()
        self.imports: set[str] = set()
        self._seen: set[tuple[str, str]] = set()
        self._modules: set[str] = set()
        self._visit(f"functions.{function}", function)

    def _defs(self, module: str) -> dict[str, ast.AST]:
        out: dict[str, ast.AST] = {}
        for node in MODULES[module].body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(t, ast.Name):
                        out[t.id] = node
        return out

    def _imports(self, module: str) -> dict[str, str]:
        """Local name -> dotted target (``module`` or ``module.attr``), every import of the file."""
        out = {}
        for node in ast.walk(MODULES[module]):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                out |= {a.asname or a.name.split(".")[0]: (a.asname and a.name) or a.name.split(".")[0]
                        for a in node.names}  # fmt: skip
        return out

    def _reach_module(self, module: str) -> None:
        """Importing ``module`` runs its decorators: a decorated function is registered."""
        if module in self._modules:
            return
        self._modules.add(module)
        for node in MODULES[module].body:
            if isinstance(node, ast.FunctionDef) and any(
                ast.unparse(d).split("(")[0].split(".")[-1] not in _PLAIN_DECORATORS
                for d in node.decorator_list
            ):
                self._visit(module, node.name)
            elif isinstance(node, ast.ImportFrom) and node.module in MODULES:
                self._reach_module(node.module)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:  # `from functions.routes import meetings` (a module)
                    if f"{node.module}.{a.name}" in MODULES:
                        self._reach_module(f"{node.module}.{a.name}")

    def _resolve(self, dotted: str) -> None:
        """Visit what ``a.b.c`` names: the longest module prefix, then the name in it."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if module in MODULES:
                self._reach_module(module)
                if cut < len(parts):
                    self._visit(module, parts[cut])
                return
        self.imports.add(parts[0])  # a third-party module

    def _visit(self, module: str, name: str) -> None:
        if (module, name) in self._seen or module not in MODULES:
            return
        self._seen.add((module, name))
        self._reach_module(module)
        node = self._defs(module).get(name)
        if node is None:
            return
        defs, imports = self._defs(module), self._imports(module)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                f = sub.func
                self.calls.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                self.strings.add(sub.value)
            elif isinstance(sub, ast.Import | ast.ImportFrom):
                for a in sub.names:  # an import inside a function: what it names is used there
                    target = f"{sub.module}.{a.name}" if isinstance(sub, ast.ImportFrom) else a.name
                    self._resolve(target)
            if isinstance(sub, ast.Attribute):
                self.attributes.add(sub.attr)
                chain = ast.unparse(sub)
                root = chain.split(".")[0]
                if root in imports and all(p.isidentifier() for p in chain.split(".")):
                    self._resolve(imports[root] + chain[len(root) :])
            elif isinstance(sub, ast.Name):
                if sub.id in defs:
                    self._visit(module, sub.id)
                elif sub.id in imports:
                    self._resolve(imports[sub.id])


def setting_field(env_var: str) -> str:
    return env_var.removeprefix("PITLANE_").lower()


@pytest.mark.parametrize("name", sorted(MANIFEST.functions))
def test_needs_match_what_the_code_uses(name: str) -> None:
    fn = MANIFEST.functions[name]
    uses = Uses(name)
    kinds = {n.kind for n in fn.needs}
    firestore = bool({"db", "firestore_client"} & uses.calls)
    assert firestore == bool(kinds & {"firestore.read", "firestore.write"}), f"{name}: Firestore use vs needs"
    publishes = "publish" in uses.calls
    assert publishes == ("pubsub.publish" in kinds), f"{name}: publishing vs pubsub.publish needs"
    enqueues = bool({"enqueue_http", "create_task"} & uses.calls)
    assert enqueues == ("tasks.enqueue" in kinds), f"{name}: Cloud Tasks use vs tasks.enqueue needs"
    fcm = "firebase_admin" in uses.imports
    assert fcm == ("fcm.send" in kinds), f"{name}: Firebase Cloud Messaging use vs the fcm.send need"
    for topic in fn.needs_of("pubsub.publish"):
        assert topic in uses.strings, f"{name} never names topic {topic}"
    for queue in fn.needs_of("tasks.enqueue"):
        assert queue in uses.strings, f"{name} never names queue {queue}"
    for secret in fn.needs_of("secret"):
        assert setting_field(MANIFEST.secret(secret).env) in uses.attributes, f"{name} never reads {secret}"
    for bucket in {*fn.needs_of("storage.read"), *fn.needs_of("storage.write")}:
        env = MANIFEST.bucket(bucket).env
        assert env is None or setting_field(env) in uses.attributes, f"{name} never uses {bucket}"
    # The reverse: code that reads a secret's or a bucket's setting declares the need.
    for secret in MANIFEST.secrets:
        if setting_field(secret.env) in uses.attributes:
            assert secret.name in fn.needs_of("secret"), (
                f"{name} reads {secret.env}: needs secret:{secret.name}"
            )
    for bucket in MANIFEST.buckets:
        if bucket.env and setting_field(bucket.env) in uses.attributes:
            assert {*fn.needs_of("storage.read"), *fn.needs_of("storage.write")} & {bucket.name}, (
                f"{name} uses {bucket.env}: needs storage.read:{bucket.name} or storage.write:{bucket.name}"
            )


def test_what_a_function_mounts_is_a_setting() -> None:
    """A mounted secret or bucket name must be a setting, or the function stops at cold start
    (an unknown PITLANE_ variable is an error, shared/config.py)."""
    for fn in MANIFEST.functions.values():
        buckets = {*fn.needs_of("storage.read"), *fn.needs_of("storage.write")}
        for env in [MANIFEST.secret(s).env for s in fn.needs_of("secret")] + [
            e for b in buckets if (e := MANIFEST.bucket(b).env)
        ]:
            assert setting_field(env) in Settings.model_fields, f"{fn.name}: {env} is not a setting"
