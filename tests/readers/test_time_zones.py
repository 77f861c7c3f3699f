"""acquired_at says where its offset came from: the file, the vendor's UTC convention, the setting, or the host."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from nanoaid_daemon.cli import main
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import MetadataBuilder
from nanoaid_daemon.records import instrument_zone, localize

ZEISS = "rosettasciio/test_tiff_Zeiss_SEM_1k.tif"  # 23 Dec 2015 09:40:32, local time without a zone
TESCAN = "nexuslims/tescan-pfib_dataZeroed.tif"  # header 17:19:26 (UTC); TIFF DateTime 12:20:37 (local)


def inspect(capsys, path, *options) -> dict:
    assert main(["inspect", "--json", *options, str(path)]) == 0
    return json.loads(capsys.readouterr().out.splitlines()[0])["instrument"]


def test_local_vendor_time_gets_the_configured_instrument_zone_and_says_so(capsys, real_sem, monkeypatch):
    monkeypatch.setenv("NANOAID_TIMEZONE", "Europe/Rome")
    inst = inspect(capsys, real_sem / ZEISS)
    assert inst["acquired_at"] == "2015-12-23T09:40:32+01:00"
    assert inst["acquired_at_zone_source"] == "instrument-setting"


def test_without_a_configured_zone_the_host_zone_is_named_as_the_source(capsys, real_sem, monkeypatch):
    monkeypatch.delenv("NANOAID_TIMEZONE", raising=False)
    inst = inspect(capsys, real_sem / ZEISS)
    assert inst["acquired_at_zone_source"] == "host"
    expected = datetime(2015, 12, 23, 9, 40, 32).astimezone()  # this host's rules for that date
    assert datetime.fromisoformat(inst["acquired_at"]) == expected
    assert datetime.fromisoformat(inst["acquired_at"]).utcoffset() == expected.utcoffset()


def test_tescan_header_time_is_utc_whatever_the_configured_zone(capsys, real_sem, monkeypatch):
    monkeypatch.setenv("NANOAID_TIMEZONE", "America/New_York")
    inst = inspect(capsys, real_sem / TESCAN)
    assert datetime.fromisoformat(inst["acquired_at"]) == datetime(2025, 12, 3, 17, 19, 26, tzinfo=timezone.utc)
    assert inst["acquired_at_zone_source"] == "vendor-utc"


def test_configured_zone_follows_daylight_saving_for_the_frames_own_date():
    summer = Instrument(acquired_at=datetime(2024, 7, 1, 12, 0, 0))
    winter = Instrument(acquired_at=datetime(2024, 1, 1, 12, 0, 0))
    rome = instrument_zone("Europe/Rome")
    assert localize(summer, rome).acquired_at.utcoffset() == timedelta(hours=2)
    assert localize(winter, rome).acquired_at.utcoffset() == timedelta(hours=1)


def test_a_time_stored_with_its_offset_is_kept_and_marked_as_from_the_file():
    b = MetadataBuilder("x.tif", "Zeiss")
    b.when(datetime.fromisoformat("2025-05-27T10:32:12.498-04:00"))
    inst = localize(b.build({}), ZoneInfo("Europe/Rome"))
    assert inst.acquired_at.utcoffset() == timedelta(hours=-4)
    assert inst.acquired_at_zone_source == "file"


def test_no_acquisition_time_means_no_zone_source():
    assert localize(Instrument(), ZoneInfo("UTC")).acquired_at_zone_source is None


@pytest.mark.parametrize("utc,source", [(True, "vendor-utc"), (False, None)])
def test_builder_marks_vendor_utc_times(utc, source):
    b = MetadataBuilder("x.tif", "TESCAN")
    assert b.date_time("2025-12-03", "17:19:26", ("%Y-%m-%d",), "[MAIN] Date/Time", utc=utc)
    inst = b.build({})
    assert (inst.acquired_at.tzinfo is not None) is utc
    assert inst.acquired_at_zone_source == source
