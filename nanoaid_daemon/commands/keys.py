"""``nanoaid keys generate NAME --dir DIR``: CURVE key pairs for the daemon and its clients."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..bus.keyfiles import generate_keypair


def register(sub) -> None:
    p = sub.add_parser("keys", help="create CURVE keys for the event bus")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = ksub.add_parser("generate", help="write NAME.key (public) and NAME.key_secret (mode 0600) into --dir")
    gen.add_argument("name", help="e.g. 'server' for the daemon, or a client's name such as 'sem-pc-1'")
    gen.add_argument("--dir", type=Path, required=True, help="folder for the two files (created 0700 if missing)")
    gen.add_argument("--authorize", type=Path, metavar="FOLDER",
                     help="also copy the public key into this allow-list folder (the daemon's bus.authorized_keys)")
    gen.add_argument("--force", action="store_true", help="replace existing files of that name")
    gen.add_argument("--json", action="store_true", help="print the result as one JSON line")
    gen.set_defaults(func=run_generate)


def run_generate(args) -> int:
    pair = generate_keypair(args.dir, args.name, force=args.force)
    authorized = None
    if args.authorize is not None:
        args.authorize.mkdir(parents=True, exist_ok=True)
        authorized = args.authorize / pair.public_path.name
        shutil.copyfile(pair.public_path, authorized)
    doc = {"public_key": pair.public, "public_file": str(pair.public_path), "secret_file": str(pair.secret_path),
           "authorized_copy": str(authorized) if authorized else None}
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"public key  {pair.public}")
    print(f"public file {pair.public_path}  (give this to the other side)")
    print(f"secret file {pair.secret_path}  (mode 0600; keep it on this host)")
    if authorized:
        print(f"authorized  {authorized}")
    return 0
