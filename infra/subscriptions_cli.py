"""``pitlane subscriptions add|list|delete``: manage a user's notification subscriptions.

For ops and tests (the app writes its own under the security rules, or through the API)::

    pitlane subscriptions add --user UID --topics sc,vsc,red_flag \\
        [--webhook URL --secret S] [--fcm-token T] [--meetings ID,...] [--drivers 44,16] \\
        [--series f1] [--lead-min 30] [--quiet 23:00-07:00 --quiet-action hold|drop] [--tz ZONE]
    pitlane subscriptions list --user UID
    pitlane subscriptions delete --user UID --id ID

``add`` goes through the same service as ``POST /api/subscriptions`` (validation, the idempotent
id); ``UID`` is taken as given (no ID token: this is an operator's tool). It runs against the
configured Firestore: after ``source .pitlane/stack.env``, or the running local stack. The last
line on stdout is JSON: the subscription (secrets shown by their last 4 characters only), or
``{"subscriptions": [...]}``, or ``{"deleted": ID}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.errors import BadRequestError
from shared.gcp import firestore_client
from shared.notify.model import TOPICS
from shared.services import subscriptions as service


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _quiet(text: str) -> tuple[str, str]:
    start, sep, end = text.partition("-")
    if not sep:
        raise argparse.ArgumentTypeError(f"--quiet wants HH:MM-HH:MM, got {text!r}")
    return start.strip(), end.strip()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("subscriptions", help="a user's notification subscriptions")
    sub = parser.add_subparsers(dest="subscriptions_command", required=True, metavar="SUBCOMMAND")
    add = sub.add_parser("add", help="subscribe a user to topics on a webhook and/or FCM token")
    add.add_argument("--user", required=True, help="Firebase Auth uid")
    add.add_argument("--topics", type=_csv, required=True, help="comma-separated: " + ",".join(TOPICS))
    add.add_argument("--webhook", help="webhook URL (needs --secret)")
    add.add_argument("--secret", help="webhook shared secret (at least 16 characters)")
    add.add_argument("--fcm-token", help="FCM device registration token")
    add.add_argument("--series", type=_csv, default=[], help="e.g. f1")
    add.add_argument("--meetings", type=_csv, default=[], help="meeting ids, e.g. 2018_azerbaijan_grand_prix")
    add.add_argument("--drivers", type=_csv, default=[], help="car numbers, e.g. 44,16")
    add.add_argument("--lead-min", type=int, default=None, help="reminder lead time in minutes (5-120)")
    add.add_argument("--quiet", type=_quiet, default=None, help="quiet hours HH:MM-HH:MM")
    add.add_argument("--quiet-action", choices=["hold", "drop"], default="hold")
    add.add_argument("--tz", default="UTC", help="the user's IANA time zone (for quiet hours, times)")
    add.set_defaults(func=handle_add)
    ls = sub.add_parser("list", help="a user's subscriptions")
    ls.add_argument("--user", required=True)
    ls.set_defaults(func=handle_list)
    rm = sub.add_parser("delete", help="delete one of a user's subscriptions")
    rm.add_argument("--user", required=True)
    rm.add_argument("--id", required=True, dest="sub_id")
    rm.set_defaults(func=handle_delete)
    for p in (add, ls, rm):
        p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)


def build_body(args: argparse.Namespace) -> service.SubscriptionCreate:
    """The API request the arguments describe; ``BadRequestError`` with one line if invalid."""
    channels: list[dict[str, Any]] = []
    if args.webhook:
        if not args.secret:
            raise BadRequestError("--webhook needs --secret")
        channels.append({"type": "webhook", "url": args.webhook, "secret": args.secret})
    if args.fcm_token:
        channels.append({"type": "fcm", "token": args.fcm_token})
    if not channels:
        raise BadRequestError("give --webhook URL --secret S and/or --fcm-token T")
    body: dict[str, Any] = {
        "topics": args.topics,
        "channels": channels,
        "filters": {"series": args.series, "meetings": args.meetings, "drivers": args.drivers},
        "time_zone": args.tz,
    }
    if args.quiet:
        body["quiet_hours"] = {"start": args.quiet[0], "end": args.quiet[1], "action": args.quiet_action}
    if args.lead_min is not None:
        body["reminder_lead_min"] = args.lead_min
    try:
        return service.SubscriptionCreate.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadRequestError(f"invalid subscription: {where}: {err['msg']}") from None


def handle_add(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    body = build_body(args)
    created = service.create_subscription(
        db=firestore_client(settings), uid=args.user, body=body, settings=settings
    )
    print(created.model_dump_json(), flush=True)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    listed = service.list_subscriptions(db=firestore_client(settings), uid=args.user)
    print(listed.model_dump_json(), flush=True)
    return 0


def handle_delete(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    service.delete_subscription(db=firestore_client(settings), uid=args.user, subscription_id=args.sub_id)
    print(json.dumps({"deleted": args.sub_id}), flush=True)
    return 0
