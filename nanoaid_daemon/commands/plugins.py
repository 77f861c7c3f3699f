"""``nanoaid plugins list|validate NAME``."""
from __future__ import annotations

from ..cli import EXIT_FAIL, EXIT_OK, add_config_option, settings_from_args
from ..errors import PluginError
from ..plugins import PluginContext, discover, load_factory, missing_methods


def register(sub) -> None:
    p = sub.add_parser("plugins", help="list or validate plugins")
    psub = p.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    ls = psub.add_parser("list", help="every declared plugin, with its state")
    add_config_option(ls)
    ls.set_defaults(func=run_list)
    val = psub.add_parser("validate", help="load one plugin and say why it is broken (exit 1) or OK")
    val.add_argument("name")
    add_config_option(val)
    val.set_defaults(func=run_validate)


def run_list(args) -> int:
    settings = settings_from_args(args)
    for found in discover():
        m = found.manifest
        if m is None:
            print(f"BROKEN    {found.entry_point}: {found.error}")
            continue
        state = "BROKEN" if found.error else "disabled" if m.name in settings.plugins.disabled else "enabled"
        print(f"{state:<9} {m.kind:<8} {m.name:<20} {m.version:<8} {m.description}")
        if found.error or found.warning:
            print(f"          {found.error or 'warning: ' + str(found.warning)}")
    return EXIT_OK


def run_validate(args) -> int:
    settings = settings_from_args(args)
    matches = [f for f in discover() if (f.manifest and f.manifest.name == args.name) or
               f.entry_point.split(" = ")[0] == args.name]
    if not matches:
        print(f"{args.name}: no such plugin (see `nanoaid plugins list`)")
        return EXIT_FAIL
    found = matches[0]
    manifest = found.manifest
    if manifest is None or not found.ok:
        print(f"{args.name}: INVALID: {found.error}")
        return EXIT_FAIL
    if found.warning:
        print(f"{args.name}: warning: {found.warning}")
    try:
        obj = load_factory(manifest)(PluginContext(manifest, settings.plugins.options.get(manifest.name, {}),
                                                   settings.models.resolved_dir()))
    except PluginError as exc:
        print(f"{args.name}: INVALID: {exc}")
        return EXIT_FAIL
    except Exception as exc:
        print(f"{args.name}: INVALID: factory raised {type(exc).__name__}: {exc}")
        return EXIT_FAIL
    missing = missing_methods(manifest.kind, obj)
    if missing:
        print(f"{args.name}: INVALID: a {manifest.kind} needs {', '.join(m + '()' for m in missing)}")
        return EXIT_FAIL
    print(f"{args.name}: OK ({manifest.kind} {manifest.version}, plugin API {manifest.api_version})")
    return EXIT_OK
