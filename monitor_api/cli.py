"""The `monitor-api` command line: migrate, seed, users, teams, devices, audit."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor_api.accounts.models import ROLES
from monitor_api.config import ConfigError, Settings


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    from monitor_api.audit.service import acting
    from monitor_api.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        with acting(sessionmaker(engine, expire_on_commit=False)(), "cli") as session:
            yield session
    finally:
        engine.dispose()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from monitor_api.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"migrated to {args.revision}")
    if args.revision == "head":  # visits migrated from before the histories get indicators
        from monitor_api.histories.refresh import rebuild

        with _session(settings) as session:
            count = rebuild(session, missing_only=True)
        if count:
            print(f"indicators computed for {count} visit(s)")
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    import monitor_api.models  # noqa: F401  (registers every model and seeder)
    from monitor_api.demo.seed import credentials_path, is_seeded, seed_demo

    path = credentials_path(Path(settings.state_dir), settings.database_url)
    with _session(settings) as session:
        if args.if_empty and is_seeded(session):
            print("demo data already present")
        else:
            seed_demo(session, path, settings)
            print("demo data seeded (SAMPLE registry of Tajik places of detention, SAMPLE "
                  "condition histories)")
    if path.exists():
        print(f"demo accounts (from {path}):")
        for user, password in json.loads(path.read_text()).items():
            print(f"  {user:22s} {password}")
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from monitor_api.accounts.service import create_user
    from schemas.accounts import UserCreate

    password = args.password or getpass.getpass("password: ")
    data = UserCreate().load({"username": args.username, "role": args.role,
                              "display_name": args.name or args.username, "password": password,
                              **({"email": args.email} if args.email else {})})
    with _session(settings) as session:
        user = create_user(session, **data)
        print(user.id)
    return 0


def cmd_create_team(settings: Settings, args: argparse.Namespace) -> int:
    from monitor_api.accounts import teams
    from monitor_api.accounts.models import User
    from monitor_api.auth import system_principal

    with _session(settings) as session:
        def user_id(username: str) -> uuid.UUID:
            found = session.scalar(select(User.id).where(User.username == username))
            if found is None:
                raise SystemExit(f"no such user: {username}")
            return found

        members = [user_id(name) for name in args.members or []]
        admin = system_principal()
        team = teams.create_team(session, admin, name=args.name,
                                   lead_id=user_id(args.lead) if args.lead else None)
        for member in members:
            teams.add_member(session, admin, team.id, member)
        print(team.id)
    return 0


def cmd_register_device(settings: Settings, args: argparse.Namespace) -> int:
    from monitor_api.accounts.devices import register_device
    from monitor_api.accounts.models import User
    from monitor_api.auth import Principal

    with _session(settings) as session:
        user = session.scalar(select(User).where(User.username == args.username))
        if user is None:
            raise SystemExit(f"no such user: {args.username}")
        device, token = register_device(session, Principal(user.id, user.role, user.username),
                                        name=args.name, platform=args.platform,
                                        lifetime_days=settings.device_token_days)
        print(json.dumps({"device_id": str(device.id), "token": token}))
    return 0


def cmd_revoke_device(settings: Settings, args: argparse.Namespace) -> int:
    from monitor_api.accounts.devices import revoke_device
    from monitor_api.auth import system_principal

    with _session(settings) as session:
        device = revoke_device(session, system_principal(), args.device_id, args.reason)
        print(f"revoked {device.id}")
    return 0


def cmd_verify_audit(settings: Settings, args: argparse.Namespace) -> int:
    from monitor_api.audit.service import verify_chain

    with _session(settings) as session:
        result = verify_chain(session)
    if result.ok:
        print(f"audit chain intact: {result.checked} rows verified")
        return 0
    print(f"audit chain BROKEN at row {result.broken_id}: {result.reason} "
          f"({result.checked} rows verified before it)")
    return 1


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor-api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="migrate the database (default: to head)")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(fn=cmd_migrate)
    p = sub.add_parser("seed-demo", help="seed sample facilities and demo users")
    p.add_argument("--if-empty", action="store_true", help="only on an empty database")
    p.set_defaults(fn=cmd_seed)
    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name")
    p.add_argument("--email")
    p.add_argument("--password", help="default: asked on the terminal")
    p.set_defaults(fn=cmd_create_user)
    p = sub.add_parser("create-team", help="create a team")
    p.add_argument("name")
    p.add_argument("--lead")
    p.add_argument("--members", nargs="*")
    p.set_defaults(fn=cmd_create_team)
    p = sub.add_parser("register-device", help="register a device for a user; prints its token")
    p.add_argument("username")
    p.add_argument("--name", required=True)
    p.add_argument("--platform")
    p.set_defaults(fn=cmd_register_device)
    p = sub.add_parser("revoke-device", help="revoke a device at once")
    p.add_argument("device_id", type=uuid.UUID)
    p.add_argument("--reason")
    p.set_defaults(fn=cmd_revoke_device)
    p = sub.add_parser("verify-audit", help="verify the audit hash chain")
    p.set_defaults(fn=cmd_verify_audit)
    for name, (help_, fn, configure) in _EXTRA.items():
        p = sub.add_parser(name, help=help_)
        configure(p)
        p.set_defaults(fn=fn)
    return parser


# Feature packages add commands here (name -> (help, fn, configure_parser)).
_EXTRA: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int],
                        Callable[[argparse.ArgumentParser], Any]]] = {}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `monitor-api` console script."""
    import monitor_api.backup  # registers backup, restore
    import monitor_api.checklists.loader  # registers load-checklist and its seeder
    import monitor_api.exports  # registers export
    import monitor_api.jobs  # registers worker, jobs
    import monitor_api.models
    import monitor_api.sync_api  # registers prune-sync  # noqa: F401

    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    from marshmallow import ValidationError

    from monitor_api.errors import ApiError

    try:
        return args.fn(settings, args)
    except ApiError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        for field, messages in exc.normalized_messages().items():
            print(f"error: {field}: {' '.join(map(str, messages))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # Run the imported module's main: `python -m` would otherwise execute a second copy of
    # this file whose _EXTRA registry the feature packages never filled.
    from monitor_api.cli import main as _main

    sys.exit(_main())
