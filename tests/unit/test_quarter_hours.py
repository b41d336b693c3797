"""Events start where every zone's offset is a whole number of quarter hours (what usage_quarter needs)."""

from __future__ import annotations

import itertools
import struct
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, available_timezones

import pytest

from billing_dash.ingest import FIRST_INSTANT, parse_event
from billing_dash.ingest.parse import _Invalid

QUARTER = 15 * 60


def _tzif(key: str) -> bytes:
    """The TZif file zoneinfo reads for `key`: the first on TZPATH, else the tzdata package's."""
    for root in TZPATH:
        path = Path(root, key)
        if path.is_file():
            return path.read_bytes()
    return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()


def _periods(key: str) -> list[tuple[int, int]]:
    """(UTC second from which it holds, offset in seconds) for each period of the zone's explicit
    history, from its 64-bit TZif data (RFC 8536); the first period holds since the beginning."""
    data = _tzif(key)
    assert data[:4] == b"TZif" and data[4] >= ord("2"), key
    isut, isstd, leap, times, types, chars = struct.unpack(">6l", data[20:44])
    data = data[44 + times * 5 + types * 6 + chars + leap * 8 + isstd + isut :]  # skip the 32-bit block
    isut, isstd, leap, times, types, chars = struct.unpack(">6l", data[20:44])
    body = data[44:]
    starts = struct.unpack(f">{times}q", body[: times * 8])
    kinds = body[times * 8 : times * 9]
    offsets = [struct.unpack(">lBB", body[times * 9 + i * 6 : times * 9 + i * 6 + 6])[0] for i in range(types)]
    return [(-(2**63), offsets[0]), *((start, offsets[kind]) for start, kind in zip(starts, kinds, strict=True))]


def _last_odd_instant(key: str) -> datetime | None:
    """The last instant at which `key`'s offset was not a whole number of quarter hours."""
    periods = _periods(key)
    # After the explicit history a yearly rule applies: its offsets all occur within any two years.
    after = datetime.fromtimestamp(max(periods[-1][0], 0), UTC)
    for day in range(0, 2 * 366):
        offset = int((after + timedelta(days=day)).astimezone(ZoneInfo(key)).utcoffset().total_seconds())
        if offset % QUARTER:
            return datetime.max.replace(tzinfo=UTC)
    for start, offset in periods[1:]:  # the parser reads what zoneinfo reads
        instant = datetime.fromtimestamp(start, UTC)
        assert instant.astimezone(ZoneInfo(key)).utcoffset() == timedelta(seconds=offset), (key, instant)
    last = None
    for (_start, offset), (end, _next) in itertools.pairwise(periods):
        if offset % QUARTER:
            last = datetime.fromtimestamp(end - 1, UTC)
    return last


def test_no_zone_has_an_offset_off_the_quarter_hour_from_the_first_accepted_instant():
    odd = {key: last for key in available_timezones() if (last := _last_odd_instant(key)) is not None}
    assert odd, "the history of Africa/Monrovia and Pacific/Kiritimati should show up"
    latest = max(odd, key=odd.get)
    assert odd[latest] < FIRST_INSTANT, f"{latest} had an offset off the quarter hour at {odd[latest]}"


def test_timestamps_start_at_the_first_accepted_instant():
    assert (
        parse_event(
            {
                "event_id": "e",
                "timestamp": FIRST_INSTANT.isoformat(),
                "agent_id": "a",
                "conversation_id": "c",
                "model": "m",
                "prompt_tokens": 1,
                "completion_tokens": 1,
            }
        ).ts
        == FIRST_INSTANT
    )


@pytest.mark.parametrize(
    "ts",
    [
        FIRST_INSTANT - timedelta(microseconds=1),
        datetime(1975, 6, 1, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_earlier_timestamps_are_refused_naming_the_field(ts):
    with pytest.raises(_Invalid) as info:
        parse_event(
            {
                "event_id": "e",
                "timestamp": ts.isoformat(),
                "agent_id": "a",
                "conversation_id": "c",
                "model": "m",
                "prompt_tokens": 1,
                "completion_tokens": 1,
            }
        )
    assert info.value.field == "timestamp"
    assert FIRST_INSTANT.strftime("%Y-%m-%dT%H:%M:%SZ") in info.value.message
