"""``nanoaid export nexus``: one NeXus NXem file per frame, built by pynxtools' own ``em`` reader.

pynxtools-em parses the vendor file (image, axes, instrument); NanoAID adds what the sidecar knows
that the vendor file does not say in NXem terms (acquisition time with its zone, operator, sample,
a stage tilt the parser left out), and its own results: the classification scores and the
orientation histogram as NXdata, the AI-lens previews as NXdata images, and the sidecar itself as
an NXnote. The file is then validated by pynxtools against NXem. Concepts NXem does not define
(NanoAID's results) are undocumented extensions, so validation ignores undocumented concepts, as
``pynx validate --ignore-undocumented`` does; every required NXem concept must be present.
"""
from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import deep_merge
from ..errors import ConfigError, ReaderError
from .nexus_values import ValueComparison, compare_values

__all__ = ["NexusExport", "export_nexus", "load_eln"]

log = logging.getLogger(__name__)
ENTRY = "/ENTRY[entry1]"
IMAGE = f"{ENTRY}/roiID[roi1]/img/imageID[image1]"
STAGE_SUFFIX = "/instrument/stageID[stage]"


@dataclass
class NexusExport:
    """What one export produced and what pynxtools' validation said of it."""

    frame: Path
    path: Path
    valid: bool
    problems: list[str] = field(default_factory=list)
    comparison: list[ValueComparison] = field(default_factory=list)


def _pynxtools() -> Any:
    try:
        from pynxtools.dataconverter import convert, helpers, validation, writer
    except ImportError as exc:  # the optional extra is not installed
        raise ConfigError(
            "NeXus export needs pynxtools with its em reader: pip install 'nanoaid-daemon[nexus]'"
        ) from exc
    return convert, helpers, validation, writer


def load_eln(path: Path | None) -> dict[str, Any]:
    """A facility's ELN block (YAML, the NOMAD eln_data layout): sample, user, project."""
    if path is None:
        return {}
    import yaml  # pynxtools depends on PyYAML

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"--eln {path}: cannot be read as YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--eln {path}: expected a mapping with sections such as 'sample' and 'user'")
    return data


def _eln_from_sidecar(sidecar: dict[str, Any], eln: dict[str, Any]) -> dict[str, Any]:
    """What the sidecar knows in the ELN layout; the facility's ELN wins where both say something."""
    instrument = sidecar.get("instrument", {})
    ours: dict[str, Any] = {"entry": {"experiment_alias": sidecar["frame"]["name"],
                                      "experiment_description": "SEM frame exported by NanoAID"}}
    if instrument.get("acquired_at"):
        ours["entry"]["start_time"] = instrument["acquired_at"]
    if instrument.get("sample"):
        ours["sample"] = {"name": instrument["sample"]}
    if instrument.get("operator"):
        ours["user"] = [{"name": instrument["operator"], "role": "operator"}]
    ours.setdefault("sample", {}).setdefault("is_simulation", False)
    return deep_merge(ours, eln)


def _set_if_missing(template: Any, key: str, value: Any, unit: str | None = None) -> None:
    if template.get(key) is None:
        template[key] = value
        if unit:
            template[key + "/@units"] = unit


def _fill_required(template: Any, sidecar: dict[str, Any]) -> None:
    """Required NXem concepts the vendor parser left out, from what NanoAID's reader knows.

    pynxtools-em's TFS parser fills some concepts in an order that varies between runs (it leaves
    the beam voltage or the stage rotation out now and then); the reader's values close the gap.
    An SEM stage tilts about one axis: its tilt is the reader's, and the second (beta) tilt is 0.
    The static electron column is part of the instrument, so it carries the instrument's maker.
    """
    instrument = sidecar.get("instrument", {})
    stage = instrument.get("stage") or {}
    tilt = stage.get("tilt")
    groups = {k[: k.index(STAGE_SUFFIX) + len(STAGE_SUFFIX)] for k in template.keys()
              if STAGE_SUFFIX + "/" in k and template[k] is not None}
    for group in groups:
        if tilt is not None:
            _set_if_missing(template, group + "/tilt1", np.float64(math.radians(tilt["value"])), "radian")
        if stage.get("rotation") is not None:
            _set_if_missing(template, group + "/rotation", np.float64(math.radians(stage["rotation"]["value"])),
                            "radian")
        if template.get(group + "/tilt1") is not None:
            _set_if_missing(template, group + "/tilt2", np.float64(0.0), "radian")
        if all(stage_axis in stage for stage_axis in "xyz"):
            position = np.array([stage[a]["value"] * 1e-3 for a in "xyz"], dtype=np.float64)
            _set_if_missing(template, group + "/position", position, "meter")
    _name_apertures(template, instrument.get("vendor_raw") or {})
    energy = instrument.get("beam_energy")
    sources = {k.split("/electron_source/")[0] for k in template.keys()
               if "/eventID[" in k and "/electron_source/" in k and template[k] is not None}
    for column in sources if energy else ():
        _set_if_missing(template, column + "/electron_source/voltage", np.float64(energy["value"] * 1e3), "volt")
    column = f"{ENTRY}/measurement/instrument/ebeam_column"
    has_column = any(k.startswith(column + "/") and template[k] is not None for k in template.keys())
    if not has_column and instrument.get("vendor") and instrument.get("model"):
        template[f"{column}/fabrication/vendor"] = instrument["vendor"]
        template[f"{column}/fabrication/model"] = instrument["model"]


def _name_apertures(template: Any, raw: dict[str, Any]) -> None:
    """pynxtools-em numbers the static and per-event aperture entries in no fixed order, so a
    group may get the diameter without the name; the name is the vendor header's aperture label."""
    ini = raw.get("ini") or {}  # the FEI/Thermo Fisher reader keeps the INI header under "ini"
    label = (ini.get("EBeam") or {}).get("Aperture") or (ini.get("Beam") or {}).get("Aperture")
    if not label:
        return
    groups = {k.split("/apertureID[")[0] + "/apertureID[" + k.split("/apertureID[")[1].split("]")[0] + "]"
              for k in template.keys() if "/apertureID[" in k and template[k] is not None}
    for group in groups:
        _set_if_missing(template, group + "/name", str(label))


#: NXem's open enumeration of imaging modes, and the detector names vendors use for each.
_MODES = {
    "secondary_electron": ("se", "etd", "inlens", "in-lens", "se2", "he-se2", "tld", "led", "lei", "uei", "sei"),
    "backscattered_electron": ("bse", "cbs", "abs", "qbsd", "asb", "esb", "bsd", "rbei", "bei", "vcd", "t1"),
}


def _imaging_mode(template: Any, path: str, detector: str | None) -> None:
    name = (detector or "").strip().lower()
    for mode, names in _MODES.items():
        if name in names or any(name.startswith(n) for n in names if len(n) > 2):
            template[path] = mode
            return
    template[path] = detector or "unknown"
    template[path + "/@custom"] = True


def _fix_axis_indices(template: Any) -> None:
    """pynxtools-em may write ``AXISNAME_indices`` contrary to its own ``@axes``; ``@axes`` is the truth."""
    for key in [k for k in template.keys() if k.endswith("/@axes")]:
        axes = template[key]
        if not isinstance(axes, (list, tuple)):
            continue
        group = key[: -len("/@axes")]
        for position, axis in enumerate(axes):
            index_key = f"{group}/@AXISNAME_indices[{axis}_indices]"
            if index_key in template.keys() and template[index_key] is not None:
                template[index_key] = np.uint32(position)


def _nxdata(template: Any, path: str, signal: str, values: np.ndarray, axes: dict[str, tuple[np.ndarray, str]],
            title: str) -> None:
    template[f"{path}/@signal"] = signal
    template[f"{path}/@axes"] = list(axes) if len(axes) > 1 else next(iter(axes))
    for index, (name, (axis, unit)) in enumerate(axes.items()):
        template[f"{path}/@AXISNAME_indices[{name}_indices]"] = np.uint32(index)
        template[f"{path}/AXISNAME[{name}]"] = axis
        if unit:
            template[f"{path}/AXISNAME[{name}]/@units"] = unit
    template[f"{path}/DATA[{signal}]"] = values
    template[f"{path}/title"] = title


def _add_frame(template: Any, sidecar: dict[str, Any], pixels: np.ndarray) -> None:
    """The image NanoAID analysed (databar cut off), in physical units where the pixel size is known."""
    size = sidecar.get("instrument", {}).get("pixel_size")
    rows, cols = pixels.shape
    # a large frame is analysed block-averaged (readkit.decimate): each pixel spans factor stored pixels
    factor = max(1, round(int(sidecar.get("frame", {}).get("width_px") or cols) / cols))
    if size:
        y = (np.arange(rows, dtype=np.float64) * factor + (factor - 1) / 2) * size["y"]["value"]
        x = (np.arange(cols, dtype=np.float64) * factor + (factor - 1) / 2) * size["x"]["value"]
        axes = {"axis_y": (y, "nm"), "axis_x": (x, "nm")}
    else:
        axes = {"axis_y": (np.arange(rows, dtype=np.uint32), ""), "axis_x": (np.arange(cols, dtype=np.uint32), "")}
    _nxdata(template, f"{IMAGE}/image_2d", "real", pixels, axes, f"{sidecar['frame']['name']} as analysed")


def _add_results(template: Any, sidecar: dict[str, Any], sidecar_path: Path, pixels: np.ndarray | None) -> None:
    """NanoAID's results beside the measurement, in the region-of-interest image process."""
    instrument = sidecar.get("instrument", {})
    _imaging_mode(template, f"{IMAGE}/imaging_mode", instrument.get("detector"))
    if pixels is not None:
        _add_frame(template, sidecar, pixels)
    classification = sidecar.get("classification")
    if classification:
        classes = list(classification["scores"])
        _nxdata(template, f"{IMAGE}/DATA[nanoaid_classification]", "scores",
                np.array([classification["scores"][c] for c in classes], dtype=np.float64),
                {"morphology_class": (np.array(classes, dtype=object), "")},
                f"{classification['label']} ({classification['decision']}, {classification['score']:.3f})")
    alignment = sidecar.get("alignment")
    if alignment:
        hist = alignment["histogram"]
        counts = np.array(hist["counts"], dtype=np.float64)
        centres = hist["start_deg"] + hist["bin_width_deg"] * (np.arange(counts.size) + 0.5)
        _nxdata(template, f"{IMAGE}/DATA[nanoaid_orientation]", "energy_share", counts,
                {"orientation": (centres, "degree")},
                f"coherency {alignment['coherency']:.3f}, orientation {alignment['orientation_deg']:.1f} deg")
    _add_previews(template, sidecar, sidecar_path.parent)
    note = f"{ENTRY}/noteID[nanoaid_sidecar]"
    template[f"{note}/type"] = "application/ld+json"
    template[f"{note}/file_name"] = sidecar_path.name
    template[f"{note}/checksum"] = _sha256(sidecar_path)
    template[f"{note}/algorithm"] = "sha256"
    template[f"{note}/description"] = json.dumps(sidecar, ensure_ascii=False)


def _add_previews(template: Any, sidecar: dict[str, Any], folder: Path) -> None:
    from PIL import Image

    for preview in sidecar.get("previews", []):
        path = folder / preview["path"]
        if not path.is_file():
            log.warning("preview %s named by the sidecar is missing; left out of the NeXus file", path)
            continue
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
        rows, cols = pixels.shape[:2]
        _nxdata(template, f"{IMAGE}/DATA[preview_{preview['kind']}]", "image", pixels,
                {"axis_y": (np.arange(rows, dtype=np.uint32), ""), "axis_x": (np.arange(cols, dtype=np.uint32), "")},
                f"NanoAID preview: {preview['kind']}")


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _validate(validation: Any, helpers: Any, path: Path) -> tuple[bool, list[str]]:
    import h5py

    collector = helpers.collector
    collector.clear()
    with h5py.File(path, "r") as h5:
        valid = validation.validate_hdf_group_against("NXem", h5["entry1"], str(path), ignore_undocumented=True)
    return bool(valid), sorted(collector.get())


def export_nexus(frame: Path, sidecar: dict[str, Any], sidecar_path: Path, out_dir: Path,
                 eln: dict[str, Any] | None = None, pixels: np.ndarray | None = None) -> NexusExport:
    """Write ``OUT/<frame name>.nxs`` and validate it; the comparison is taken before NanoAID fills gaps."""
    convert, helpers, validation, writer = _pynxtools()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (frame.name + ".nxs")
    with tempfile.TemporaryDirectory(prefix="nanoaid-nexus-") as tmp:
        import yaml

        eln_path = Path(tmp) / "eln_data.yaml"
        eln_path.write_text(yaml.safe_dump(_eln_from_sidecar(sidecar, eln or {})), encoding="utf-8")
        try:
            template = convert.transfer_data_into_template(
                input_file=(str(frame), str(eln_path)), reader="em", nxdl_name="NXem", skip_verify=True)
        except Exception as exc:  # pynxtools raises many kinds; the frame is what failed
            raise ReaderError(f"pynxtools' em reader cannot convert it: {exc}", path=frame, code="nexus") from exc
    comparison = compare_values(template, sidecar)
    _fill_required(template, sidecar)
    _fix_axis_indices(template)
    _add_results(template, sidecar, sidecar_path, pixels)
    helpers.add_default_root_attributes(data=template, filename=target.name)
    _, nxdl_path = helpers.get_nxdl_root_and_path(nxdl="NXem")
    partial = target.with_name(target.name + ".part")
    writer.Writer(data=template, nxdl_f_path=nxdl_path, output_path=str(partial)).write()
    partial.replace(target)
    valid, problems = _validate(validation, helpers, target)
    return NexusExport(frame=frame, path=target, valid=valid, problems=problems, comparison=comparison)
