"""Service accounts, IAM bindings, secrets and buckets, derived from the manifest.

Every function runs as its own service account ``pitlane-<name>`` (``_`` as ``-``), and that
account holds exactly the roles its manifest ``needs`` map to, each on the narrowest resource IAM
offers (:data:`NEED_ROLES`): a topic, a queue, a secret, a bucket; Firestore only has project-level
roles. Invocation follows from the trigger, not from needs:

* a Cloud Tasks target (``trigger: queue``) is called with an OIDC token for its own account
  (``shared.tasks``), so that account may invoke the function, and every function that needs
  ``tasks.enqueue:<queue>`` may act as it (``iam.serviceAccountUser`` on that one account, which
  lets Cloud Tasks mint the token; nothing else);
* a Pub/Sub function's Eventarc trigger runs as the function's account, which may invoke it;
* a public HTTP function (``public: true``) is deployed ``--allow-unauthenticated``.

Container logs reach Cloud Logging from stdout without any role, so no account has
``logging.logWriter``. The commands are rendered with Cloud Build's ``$PROJECT_ID`` and
``${_REGION}``; shell variables are written ``$$NAME`` (Cloud Build's escape).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from infra.manifest import Bucket, Function, Manifest, QueueTrigger, TopicTrigger
from infra.provision import MAX_DELIVERY_ATTEMPTS, RETRY_MAX_BACKOFF_S, RETRY_MIN_BACKOFF_S

_SHELL_SPECIAL = re.compile(r"[\s'\"|&;<>()*?!`\\]")
PROJECT = "$PROJECT_ID"
REGION = "${_REGION}"

# need kind -> (where the role is granted, the role): the smallest predefined role for each use.
NEED_ROLES: dict[str, tuple[str, str]] = {
    "firestore.read": ("project", "roles/datastore.viewer"),
    "firestore.write": ("project", "roles/datastore.user"),
    "pubsub.publish": ("topic", "roles/pubsub.publisher"),
    "tasks.enqueue": ("queue", "roles/cloudtasks.enqueuer"),
    "secret": ("secret", "roles/secretmanager.secretAccessor"),
    "storage.read": ("bucket", "roles/storage.objectViewer"),
    "storage.write": ("bucket", "roles/storage.objectUser"),
    # FCM's send permission (cloudmessaging.messages.create) exists only in this project role.
    "fcm.send": ("project", "roles/firebasecloudmessaging.admin"),
}
ACT_AS = "roles/iam.serviceAccountUser"
INVOKER = "roles/run.invoker"

# Builds the functions' containers (gcloud functions deploy --build-service-account), so that
# no build runs as the Compute Engine default account.
BUILDER_ID = "pitlane-builder"
BUILDER_ROLES = ("roles/cloudbuild.builds.builder",)
FIREBASE_TOOLS = "firebase-tools@15.34.2"
# The recorded sessions the build's tests replay (../shared/data, beside the checkout).
TEST_DATA_BUCKET = f"{PROJECT}-pitlane-testdata"
# Runs cloudbuild.yaml; created and granted once per project by an owner (`--bootstrap`).
DEPLOYER_ID = "pitlane-deployer"
DEPLOYER_ROLES = (
    "roles/cloudfunctions.admin",  # deploy, and allUsers on the public api
    "roles/run.admin",  # invoker bindings on the functions' Cloud Run services
    "roles/iam.serviceAccountAdmin",  # create the accounts, grant act-as on one account
    "roles/iam.serviceAccountUser",  # deploy functions that run as their accounts
    "roles/resourcemanager.projectIamAdmin",  # the project-level Firestore and builder roles
    "roles/serviceusage.serviceUsageAdmin",
    "roles/pubsub.admin",
    "roles/cloudtasks.admin",
    "roles/cloudscheduler.admin",
    "roles/eventarc.viewer",  # find a trigger's subscription to attach its dead-letter topic
    "roles/secretmanager.admin",
    "roles/storage.admin",
    "roles/datastore.indexAdmin",
    "roles/firebaserules.admin",
    "roles/firebase.viewer",  # firebase-tools reads the project before deploying rules and indexes
    "roles/logging.configWriter",  # log-based metrics
    "roles/monitoring.alertPolicyEditor",
    "roles/logging.logWriter",  # the build's own logs (CLOUD_LOGGING_ONLY)
)
APIS = (
    "cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com", "eventarc.googleapis.com", "pubsub.googleapis.com",
    "cloudtasks.googleapis.com", "cloudscheduler.googleapis.com", "firestore.googleapis.com",
    "secretmanager.googleapis.com", "storage.googleapis.com", "logging.googleapis.com",
    "monitoring.googleapis.com", "iam.googleapis.com",
)  # fmt: skip


def sa_email(sa_id: str, project: str = PROJECT) -> str:
    return f"{sa_id}@{project}.iam.gserviceaccount.com"


def member(sa_id: str, project: str = PROJECT) -> str:
    return f"serviceAccount:{sa_email(sa_id, project)}"


def bucket_name(bucket: Bucket, project: str = PROJECT) -> str:
    return f"{project}-pitlane-{bucket.name}"


def bucket_setting(bucket: Bucket, project: str = PROJECT) -> str:
    """The value of the bucket's setting: its name, or ``gs://<name>/<path>``."""
    name = bucket_name(bucket, project)
    return f"gs://{name}/{bucket.path}" if bucket.path else name


@dataclass(frozen=True, order=True)
class Binding:
    """``member`` holds ``role`` on a resource: ``on`` is ``project``, ``topic``, ``queue``,
    ``secret``, ``bucket``, ``service-account`` (an email) or ``function`` (a name)."""

    on: str
    resource: str
    role: str
    member: str
    why: str = field(default="", compare=False)


def need_bindings(manifest: Manifest, fn: Function, project: str = PROJECT) -> list[Binding]:
    """What ``fn``'s needs grant its own account, plus act-as on the accounts its tasks use."""
    who = member(fn.service_account_id, project)
    out: list[Binding] = []
    for need in fn.needs:
        on, role = NEED_ROLES[need.kind]
        resource = need.resource
        if on == "bucket":
            resource = bucket_name(manifest.bucket(need.resource), project)
        out.append(Binding(on, "" if on == "project" else resource, role, who, f"{fn.name}: {need}"))
        if need.kind == "tasks.enqueue":
            for target in manifest.queue_targets(need.resource):
                out.append(
                    Binding(
                        "service-account",
                        sa_email(target.service_account_id, project),
                        ACT_AS,
                        who,
                        f"{fn.name}: OIDC tokens of {target.name}'s tasks",
                    )
                )
    return out


def invoker_bindings(fn: Function, project: str = PROJECT) -> list[Binding]:
    """Who may call ``fn``: its own account, for Cloud Tasks' and Eventarc's calls (after deploy)."""
    if isinstance(fn.trigger, QueueTrigger | TopicTrigger):
        return [
            Binding(
                "function", fn.name, INVOKER, member(fn.service_account_id, project), f"{fn.name}: trigger"
            )
        ]
    return []


def bindings(manifest: Manifest, project: str = PROJECT) -> list[Binding]:
    """Every grant made before the functions deploy (the builder's included), sorted, unique."""
    out = {b for fn in manifest.functions.values() for b in need_bindings(manifest, fn, project)}
    out |= {Binding("project", "", role, member(BUILDER_ID, project), "builds") for role in BUILDER_ROLES}
    return sorted(out)


def required_secrets(manifest: Manifest) -> list[str]:
    """Secrets some function always mounts (each must have a version before the deploy)."""
    needed = {s for fn in manifest.functions.values() for s in fn.needs_of("secret")}
    return sorted(s for s in needed if not manifest.secret(s).optional)


# --- commands ------------------------------------------------------------------------------------


def _q(*args: str) -> str:
    """A shell line; only arguments with spaces or shell syntax are quoted, so that Cloud Build's
    ``$PROJECT_ID``/``${_REGION}`` and ``$$`` escapes stay as written."""
    return " ".join(shlex.quote(a) if _SHELL_SPECIAL.search(a) else a for a in args)


def binding_command(b: Binding, region: str = REGION, project: str = PROJECT) -> str:
    tail = [f"--member={b.member}", f"--role={b.role}", "--format=none"]
    if b.on == "project":
        return _q("gcloud", "projects", "add-iam-policy-binding", project, *tail, "--condition=None")
    if b.on == "topic":
        return _q(
            "gcloud", "pubsub", "topics", "add-iam-policy-binding", b.resource, f"--project={project}", *tail
        )
    if b.on == "queue":
        return _q("gcloud", "tasks", "queues", "add-iam-policy-binding", b.resource, f"--project={project}",
                  f"--location={region}", *tail)  # fmt: skip
    if b.on == "secret":
        return _q("gcloud", "secrets", "add-iam-policy-binding", b.resource, f"--project={project}", *tail)
    if b.on == "bucket":
        return _q("gcloud", "storage", "buckets", "add-iam-policy-binding", f"gs://{b.resource}", *tail)
    if b.on == "service-account":
        return _q("gcloud", "iam", "service-accounts", "add-iam-policy-binding", b.resource,
                  f"--project={project}", *tail)  # fmt: skip
    if b.on == "function":
        return _q("gcloud", "functions", "add-invoker-policy-binding", b.resource, f"--project={project}",
                  f"--region={region}", f"--member={b.member}", "--format=none")  # fmt: skip
    raise ValueError(f"no command for a binding on {b.on}")


def _ensure_sa(sa_id: str, description: str) -> str:
    create = _q("gcloud", "iam", "service-accounts", "create", sa_id, f"--project={PROJECT}",
                f"--display-name={description[:100]}")  # fmt: skip
    describe = f"gcloud iam service-accounts describe {sa_email(sa_id)} --project={PROJECT} --format=none"
    return f"{describe} 2>/dev/null || {create}"


def service_accounts_script(manifest: Manifest) -> list[str]:
    """Enable the APIs and create one account per function, and the builder's."""
    lines = [f"gcloud services enable {' '.join(APIS)} --project={PROJECT}"]
    lines += [_ensure_sa(fn.service_account_id, f"Pitlane {fn.name}") for fn in manifest.functions.values()]
    lines.append(_ensure_sa(BUILDER_ID, "Pitlane function builds"))
    return lines


def storage_secrets_script(manifest: Manifest) -> list[str]:
    """Buckets (uniform access, no public access, versioning, lifecycle) and empty secrets."""
    lines: list[str] = []
    for bucket in manifest.buckets:
        url = f"gs://{bucket_name(bucket)}"
        lines.append(
            f"gcloud storage buckets describe {url} --format=none 2>/dev/null || gcloud storage buckets"
            f" create {url} --project={PROJECT} --location={REGION} --uniform-bucket-level-access"
            " --public-access-prevention"
        )
        versioning = "--versioning" if bucket.versioning else "--no-versioning"
        lines.append(f"gcloud storage buckets update {url} {versioning}")
        if bucket.delete_after_days:
            rule = {"rule": [{"action": {"type": "Delete"}, "condition": {"age": bucket.delete_after_days}}]}
            path = f"/workspace/lifecycle-{bucket.name}.json"
            lines.append(f"echo {shlex.quote(json.dumps(rule))} > {path}")
            lines.append(f"gcloud storage buckets update {url} --lifecycle-file={path}")
    for secret in manifest.secrets:
        lines.append(
            f"gcloud secrets describe {secret.name} --project={PROJECT} --format=none 2>/dev/null || gcloud"
            f" secrets create {secret.name} --project={PROJECT} --replication-policy=automatic"
        )
    return lines


def iam_script(manifest: Manifest) -> list[str]:
    """Every need's binding (an optional secret's too: reading an empty secret reveals nothing);
    stops first if a required secret has no version yet."""
    lines = [
        f"gcloud secrets versions list {name} --project={PROJECT} --filter=state:ENABLED --limit=1"
        f" --format='value(name)' | grep -q . || {{ echo 'secret {name} has no version: gcloud secrets"
        f" versions add {name} --data-file=-' >&2; exit 1; }}"
        for name in required_secrets(manifest)
    ]
    return lines + [binding_command(b) for b in bindings(manifest)]


def after_deploy_script(manifest: Manifest, fn: Function) -> list[str]:
    """Invoker binding; for a topic with a dead-letter topic, the policy on Eventarc's subscription."""
    lines = [binding_command(b) for b in invoker_bindings(fn)]
    if isinstance(fn.trigger, TopicTrigger) and (dlq := manifest.topic(fn.trigger.topic).dead_letter_topic):
        agent = "serviceAccount:service-$$PN@gcp-sa-pubsub.iam.gserviceaccount.com"
        lines += [
            f"PN=$$(gcloud projects describe {PROJECT} --format='value(projectNumber)')",
            f"TRIGGER=$$(gcloud functions describe {fn.name} --project={PROJECT} --region={REGION}"
            " --format='value(eventTrigger.trigger)')",
            'SUB=$$(gcloud eventarc triggers describe "$$TRIGGER"'
            " --format='value(transport.pubsub.subscription)')",
            f'gcloud pubsub subscriptions update "$$SUB" --dead-letter-topic={dlq}'
            f" --dead-letter-topic-project={PROJECT} --max-delivery-attempts={MAX_DELIVERY_ATTEMPTS}"
            f" --min-retry-delay={RETRY_MIN_BACKOFF_S}s --max-retry-delay={RETRY_MAX_BACKOFF_S}s",
            f"gcloud pubsub topics add-iam-policy-binding {dlq} --project={PROJECT} --member={agent}"
            " --role=roles/pubsub.publisher --format=none",
            f'gcloud pubsub subscriptions add-iam-policy-binding "$$SUB" --member={agent}'
            " --role=roles/pubsub.subscriber --format=none",
        ]
    return lines


def bootstrap_commands(project: str, region: str) -> list[str]:
    """What a project owner runs once (printed, never run): the deployer account and its roles,
    the Firestore database and Firebase, and the bucket of recorded sessions (``../shared/data``)
    the build's tests replay."""
    email = sa_email(DEPLOYER_ID, project)
    data = f"gs://{TEST_DATA_BUCKET.replace(PROJECT, project)}"
    lines = [
        f"gcloud services enable {' '.join(APIS)} --project={project}",
        f"gcloud iam service-accounts create {DEPLOYER_ID} --project={project}"
        " --display-name='Pitlane deploys'",
    ]
    lines += [
        f"gcloud projects add-iam-policy-binding {project} --member=serviceAccount:{email} --role={role}"
        " --condition=None --format=none"
        for role in DEPLOYER_ROLES
    ]
    lines += [
        # The (default) Firestore database, and Firebase on the project (rules deploy, FCM, auth).
        f"gcloud firestore databases create --project={project} --location={region} --type=firestore-native",
        f"npx -y {FIREBASE_TOOLS} projects:addfirebase {project}",
        f"gcloud storage buckets create {data} --project={project} --location={region}"
        " --uniform-bucket-level-access --public-access-prevention",
        f"gcloud storage rsync --recursive ../shared/data {data}",
    ]
    return lines
