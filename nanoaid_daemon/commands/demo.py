"""``nanoaid demo``: the whole flow on generated SEM frames, in a temporary folder, in about a minute.

A real daemon (journal, settle, readers, models, sidecars, event bus) watches a fresh folder while
generated frames of every class are saved into it the way instruments do (direct writes and
rename-into-place, one corrupt file, one duplicate); a real subscriber prints each event as it
arrives; then a summary says what happened and where everything is.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from ..cli import add_config_option, settings_from_args
from ..daemon import Daemon

_CLASSES_ORDER = ("Nanowires", "Particles", "Fibres", "Patterned_surface", "Biological", "Porous_Sponge",
                  "MEMS_devices_and_electrodes", "Powder", "Films_Coated_Surface", "Tips")


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole flow on generated frames in a temporary folder")
    p.add_argument("--frames", type=int, default=12, help="generated frames to save (default 12)")
    p.add_argument("--seed", type=int, default=2017)
    p.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    add_config_option(p)
    p.set_defaults(func=run)


def _say(text: str) -> None:
    print(text, flush=True)


def _write_frames(watch: Path, count: int, seed: int, log: list[str]) -> list[Path]:
    from ..synth import encode_frame, render, write_frame

    paths = []
    for i in range(count):
        cls = _CLASSES_ORDER[i % len(_CLASSES_ORDER)]
        frame = render(cls, seed + i, size=(768, 1024), bits=8 if i % 3 else 16)
        vendor = ("fei", "zeiss", "none")[i % 3]
        dest = watch / ("session-2" if i % 4 == 3 else "") / f"frame_{i:03d}_{cls.lower()}.tif"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if i % 2:  # like instrument software that saves under a temporary name, then renames
            part = dest.with_name(dest.name + ".part")
            part.write_bytes(encode_frame(frame, dest.suffix, vendor))
            os.replace(part, dest)
        else:
            write_frame(frame, dest, vendor=vendor, atomic=False)
        paths.append(dest)
        log.append(f"saved    {dest.relative_to(watch)}  ({cls}, {vendor} metadata)")
        time.sleep(0.05)
    return paths


def _subscribe(state: Path, lines: list[str]):
    """A real subscriber on its own thread, collecting one line per frame event; ``close()`` joins it."""
    from ..bus.client import Subscriber

    return Subscriber(state_dir=state, since=0, types=("frame.",)).start(lambda event: lines.append(_describe(event)))


def _describe(event) -> str:
    name = Path(event.frame_path or "?").name
    s = event.summary
    if event.type == "frame.processed" and s is not None:
        label = f"{s.label} ({s.score:.2f}, {s.decision})" if s.label else "no label"
        coh = f", coherency {s.coherency:.2f}" if s.coherency is not None else ""
        return f"event #{event.seq:<3} frame.processed  {name} → {label}{coh}"
    reason = s.reason if s is not None else ""
    return f"event #{event.seq:<3} {event.type:<16} {name}: {reason}"


def run(args) -> int:
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nanoaid-demo-"))
    watch, state = work / "watch", work / "state"
    watch.mkdir(parents=True, exist_ok=True)
    settings = settings_from_args(args, **{
        "watch.root": watch, "state_dir": state, "settle.quiet_s": 0.3, "settle.incomplete_grace_s": 2.0,
        "watch.reconcile_interval_s": 5.0,
    })
    _say(f"NanoAID demo in {work}")
    _say("starting the daemon (journal, readers, models, event bus)…")
    started = time.monotonic()
    daemon = Daemon(settings)
    daemon.start()
    lines: list[str] = []
    subscriber = None
    try:
        subscriber = _subscribe(state, lines)
        _say(f"daemon ready in {time.monotonic() - started:.1f} s; events on {_endpoint(state)}\n")
        shown = _stream(daemon, watch, args, lines)
        subscriber.close()
        _summary(daemon, watch, state, time.monotonic() - started, shown)
    finally:
        if subscriber is not None:
            subscriber.close()
        daemon.stop()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        _say("(temporary folder removed; run with --keep DIR to look at the files)")
    return 0


def _endpoint(state: Path) -> str:
    import json

    try:
        return json.loads((state / "endpoints.json").read_text())["pub"]
    except (OSError, ValueError, KeyError):
        return "(no endpoint file)"


def _stream(daemon: Daemon, watch: Path, args, lines: list[str]) -> int:
    log: list[str] = []
    failed: list[BaseException] = []

    def write_all() -> None:
        try:
            _write_extras(watch, _write_frames(watch, args.frames, args.seed, log), log)
        except BaseException as exc:  # reported below; the demo must not wait for frames never saved
            failed.append(exc)

    writer = threading.Thread(target=write_all, name="demo-writer", daemon=True)
    writer.start()
    expected = args.frames + 1  # every generated frame plus the corrupt one
    shown = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        while log:
            _say("  " + log.pop(0))
        while shown < len(lines):
            _say("  " + lines[shown])
            shown += 1
        done = sum(1 for line in lines if "frame.processed" in line or "frame.rejected" in line)
        if failed:
            raise RuntimeError(f"generating demo frames failed: {failed[0]}") from failed[0]
        if done >= expected and not writer.is_alive() and daemon.idle():
            break
        time.sleep(0.05)
    return shown


def _write_extras(watch: Path, paths: list[Path], log: list[str]) -> None:
    bad = watch / "interrupted_save.tif"
    bad.write_bytes(paths[0].read_bytes()[: 4096])
    log.append(f"saved    {bad.name}  (a save cut short: should be rejected)")
    dup = watch / "copy_of_first_frame.tif"
    shutil.copy(paths[0], dup)
    log.append(f"saved    {dup.name}  (same content as {paths[0].name}: recorded, not reprocessed)")


def _summary(daemon: Daemon, watch: Path, state: Path, elapsed: float, shown: int) -> None:
    journal = daemon.journal
    assert journal is not None  # open from start() until stop()
    processed = journal.events(type="frame.processed")
    rejected = journal.quarantine()
    counts = journal.counts()
    _say("\nsummary")
    _say(f"  frames processed : {len(processed)} (sidecars: {len(list(watch.rglob('*.nanoaid.json')))})")
    reasons = "".join(f"\n      {Path(r.path).name}: {r.reason}" for r in rejected)
    _say(f"  rejected         : {len(rejected)}{reasons}")
    _say(f"  duplicates       : {counts['duplicate']}")
    _say(f"  events journaled : {journal.last_seq()} (gap-free); frame events the subscriber received: {shown}")
    decisions = [e.summary.decision for e in processed if e.summary and e.summary.decision]
    if decisions:
        _say("  decisions        : " + ", ".join(f"{d} {decisions.count(d)}" for d in sorted(set(decisions))))
    timings = _timings(processed)
    if timings:
        _say(f"  analysis time    : median {statistics.median(timings):.0f} ms per frame")
    _say(f"  total wall time  : {elapsed:.1f} s")
    _say(f"  look at          : {watch} (sidecars *.nanoaid.json, previews *.nanoaid.*.png and *.jpg)")
    _say(f"  journal          : {state / 'journal.sqlite3'}  (`nanoaid status --state {state}`)")


def _timings(processed) -> list[float]:
    from ..sidecar import Sidecar

    out = []
    for event in processed:
        try:
            sidecar = Sidecar.model_validate_json(Path(event.sidecar_path).read_text())
        except (OSError, ValueError):
            continue
        out.append(sum(v for k, v in sidecar.provenance.timings_ms.items() if k != "sidecar_write"))
    return out
