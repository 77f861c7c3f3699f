"""Vendor metadata blocks in the formats real instruments write.

* FEI / Thermo Fisher: INI text in TIFF tag 34682 — CRLF lines, ``[Section]`` headers, SI units
  (HV in V; WD, HFW, PixelWidth in m; BeamCurrent in A; tilt and rotation in radians), numbers
  printed like the instrument's C runtime does (``4.41942e-007``).
* Zeiss SmartSEM: tag 34118 ``CZ_SEM`` — a block of unnamed numbers, then ``AP_…``/``DP_…``/``SV_…``
  keys each followed by a ``Label = value unit`` line, Latin-1 (µ is byte 0xB5), NUL-terminated.
"""
from __future__ import annotations

import math
from datetime import datetime

__all__ = ["fei_ini", "zeiss_cz_sem", "FEI_TAG", "ZEISS_TAG", "DISPLAY_WIDTH_M"]

FEI_TAG = 34682
ZEISS_TAG = 34118
DISPLAY_WIDTH_M = 0.127  # magnification = this / horizontal field width


def _num(value: float) -> str:
    """``%g`` with the three-digit exponent of the Windows C runtime (``3.3724e-006``)."""
    text = f"{value:g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa}e{exp[0]}{int(exp[1:]):03d}"
    return text


def _acquired(meta: dict) -> datetime:
    return datetime.fromisoformat(meta["acquired_at"])


def _fei_sections(meta: dict, image_rows: int, databar_rows: int) -> dict[str, dict[str, str]]:
    pix = meta["pixel_size_nm"] * 1e-9
    cols = meta["width_px"]
    hfw, vfw = pix * cols, pix * image_rows
    when = _acquired(meta)
    hv = meta["beam_energy_kv"] * 1000
    wd = meta["working_distance_mm"] * 1e-3
    dwell = meta["dwell_time_us"] * 1e-6
    tilt = math.radians(meta.get("tilt_deg", 0.0))
    stage = {"StageX": "0.0125", "StageY": "-0.0031", "StageZ": _num(wd + 0.0001), "StageR": "0.523599",
             "StageT": _num(tilt)}
    det = meta["detector"]
    return {
        "User": {"Date": when.strftime("%m/%d/%Y"), "Time": when.strftime("%I:%M:%S %p"), "User": "nanoaid",
                 "UserText": "synthetic frame", "UserTextUnicode": ""},
        "System": {"Type": "SEM", "Dnumber": "SYN0001", "Software": "nanoaid-synth", "Source": "FEG",
                   "Column": "Elstar", "FinalLens": "Elstar", "Chamber": "xT-SDB", "Stage": "6inch", "Pump": "TMP",
                   "ESEM": "no", "Scan": "PIA 3.0", "Acq": "PIA 3.0", "SystemType": "Synthetic FEG SEM",
                   "DisplayWidth": "0.518", "DisplayHeight": "0.324"},
        "Beam": {"HV": _num(hv), "Spot": "3", "StigmatorX": "0", "StigmatorY": "0", "BeamShiftX": "0",
                 "BeamShiftY": "0", "ScanRotation": "0", "ImageMode": "Normal", "Beam": "EBeam", "Scan": "EScan"},
        "EBeam": {"Source": "FEG", "ColumnType": "Elstar", "HV": _num(hv), "HFW": _num(hfw), "VFW": _num(vfw),
                  "WD": _num(wd), "BeamCurrent": _num(meta["beam_current_na"] * 1e-9), "ScanRotation": "0",
                  "StageX": stage["StageX"], "StageY": stage["StageY"], "StageZ": stage["StageZ"],
                  "StageR": stage["StageR"], "StageTa": stage["StageT"], "StageTb": "0", "EucWD": "0.004",
                  "EmissionCurrent": "", "TiltCorrectionIsOn": "no", "BeamMode": "N-Beam"},
        "Scan": {"InternalScan": "true", "Dwelltime": _num(dwell), "PixelWidth": _num(pix), "PixelHeight": _num(pix),
                 "HorFieldsize": _num(hfw), "VerFieldsize": _num(vfw), "Average": "0", "Integrate": "1",
                 "FrameTime": _num(dwell * cols * image_rows)},
        "EScan": {"Scan": "PIA 3.0", "InternalScan": "true", "Dwell": _num(dwell), "PixelWidth": _num(pix),
                  "PixelHeight": _num(pix), "HorFieldsize": _num(hfw), "VerFieldsize": _num(vfw)},
        "Stage": {**stage, "StageTb": "0", "SpecTilt": "0", "WorkingDistance": _num(wd)},
        "Image": {"DigitalContrast": "1", "DigitalBrightness": "0", "DigitalGamma": "1", "Average": "0",
                  "Integrate": "1", "ResolutionX": str(cols), "ResolutionY": str(image_rows), "DriftCorrected": "Off",
                  "ZoomFactor": "1", "MagCanvasRealWidth": f"{DISPLAY_WIDTH_M:.5f}", "MagnificationMode": "3",
                  "PostProcessing": "None"},
        "Vacuum": {"ChPressure": _num(meta.get("chamber_pressure_pa", 0.000312)), "Gas": "", "UserMode": "High vacuum"},
        "Detectors": {"Number": "1", "Name": det, "Mode": "BSE" if det == "BSE" else "SE"},
        det: {"Contrast": "55.3", "Brightness": "48.1", "Signal": "BSE" if det == "BSE" else "SE"},
        "Accessories": {"Number": "0"},
        "PrivateFei": {"BitShift": "0", "DataBarSelected": "DateTime HV HFW mag WD det MicronBar",
                       "TimeOfCreation": when.strftime("%d.%m.%Y %H:%M:%S"), "DatabarHeight": str(databar_rows)},
    }


def fei_ini(meta: dict, image_rows: int, databar_rows: int) -> str:
    """The INI text of tag 34682 for a frame of ``image_rows`` image rows plus the databar."""
    lines = []
    for section, values in _fei_sections(meta, image_rows, databar_rows).items():
        lines.append(f"[{section}]")
        lines.extend(f"{key}={value}" for key, value in values.items())
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def _zeiss_mag(mag: float) -> str:
    return f"{mag / 1000:.2f} K X" if mag >= 1000 else f"{mag:.0f} X"


def _zeiss_length(metres: float) -> str:
    if metres >= 1e-3:
        return f"{metres * 1e3:.3f} mm"
    if metres >= 1e-6:
        return f"{metres * 1e6:.3f} \u00b5m"
    return f"{metres * 1e9:.3f} nm"


def zeiss_cz_sem(meta: dict, image_rows: int) -> bytes:
    """The Latin-1 payload of tag 34118, in the layout tifffile's ``sem_metadata`` parses."""
    pix = meta["pixel_size_nm"] * 1e-9
    cols = meta["width_px"]
    ref_pix = pix * cols / 1024  # SmartSEM quotes the pixel size of a 1024-px-wide store resolution
    when = _acquired(meta)
    hv = meta["beam_energy_kv"] * 1000
    current = meta["beam_current_na"]
    unnamed = ["0", "0", "0", f"{ref_pix:e}", f"{meta['magnification']:e}", "6", f"{hv:e}", "2.310000e+000",
               f"{current * 1e-9:e}", f"{meta['working_distance_mm'] * 1e-3:e}"]
    pairs = [
        ("DP_IMAGE_STORE", f"Store resolution = {cols} * {meta.get('stored_rows', image_rows)}"),
        ("DP_DWELL_TIME", f"Dwell Time = {meta['dwell_time_us'] * 1000:.0f} ns"),
        ("DP_DETECTOR_CHANNEL", f"Signal A = {meta['detector']}"),
        ("DP_DETECTOR_TYPE", f"Detector = {meta['detector']}"),
        ("AP_MAG", f"Mag = {_zeiss_mag(meta['magnification'])}"),
        ("AP_IPROBE", f"I Probe = {current * 1000:.1f} pA" if current < 1 else f"I Probe = {current:.1f} nA"),
        ("AP_PIXEL_SIZE", f"Pixel Size = {_zeiss_length(ref_pix)}"),
        ("AP_HEIGHT", f"Height = {_zeiss_length(pix * image_rows)}"),
        ("AP_WD", f"WD = {meta['working_distance_mm']:.3f} mm"),
        ("AP_WIDTH", f"Width = {_zeiss_length(pix * cols)}"),
        ("AP_STAGE_AT_Z", f"Stage at Z = {meta['working_distance_mm'] + 20:.3f} mm"),
        ("AP_STAGE_AT_Y", "Stage at Y = 60.4901 mm"),
        ("AP_STAGE_AT_X", "Stage at X = 75.6442 mm"),
        ("AP_ACTUALKV", f"EHT = {meta['beam_energy_kv']:.2f} kV"),
        ("AP_STAGE_AT_T", f"Stage at T = {meta.get('tilt_deg', 0.0):.1f} \u00b0"),
        ("AP_STAGE_AT_R", "Stage at R = 30.0 \u00b0"),
        ("AP_TIME", f"Time :{when.hour}:{when.minute:02d}:{when.second:02d}"),
        ("AP_DATE", f"Date :{when.day} {when.strftime('%b %Y')}"),
        ("SV_USER_NAME", "User Name = nanoaid"),
        ("SV_SERIAL_NUMBER", "Serial No. = SYNTH-01"),
        ("SV_OPERATOR", "Operator = "),
    ]
    lines = unnamed + [item for pair in pairs for item in pair]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1") + b"\x00"
