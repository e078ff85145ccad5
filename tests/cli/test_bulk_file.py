"""A bulk file read into onboardings, each with its line."""

from __future__ import annotations

from pathlib import Path

from wamanager._models import Vertical
from wamanager.cli._bulk_file import read_bulk_file


def test_a_bulk_file_becomes_onboardings_with_their_lines(tmp_path: Path) -> None:
    """Headers are case-insensitive, cells stripped, empty optional cells unset, and each
    item knows its line (blank lines skipped)."""
    path = tmp_path / "n.csv"
    path.write_text(
        "\ufeffCountry Code, NUMBER ,waba-id,vname_certificate,method,pin,vertical\n"
        "\n"
        " 44 ,7700900123,1,C,SMS,,\n"
        '44,7700900124,1,"C,1",voice,1234,hotel and lodging\n'
    )
    bulk_file = read_bulk_file(path)
    assert bulk_file.lines == (3, 4)
    first, second = bulk_file.items
    assert (first.request.country_code, first.request.method, first.request.pin) == (
        "44",
        "sms",
        None,
    )
    assert first.profile is None
    assert (second.request.vname_certificate, second.request.pin) == ("C,1", "1234")
    assert second.profile is not None
    assert second.profile.vertical is Vertical.HOTEL_AND_LODGING
    assert (bulk_file.line_of(1), bulk_file.line_of(2), bulk_file.line_of(-1)) == (4, None, None)
