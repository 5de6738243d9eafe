"""The lexicon: shipped size and entries, workspace override, add/remove with atomic writes, errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from studio.errors import ConfigError
from studio.text import add_entry, default_lexicon, load_lexicon, normalize, remove_entry, spell
from studio.text.lexicon import SHIPPED_PATH, workspace_entries


def test_shipped_lexicon_has_the_required_entries() -> None:
    lex = default_lexicon()
    assert len(lex.abbreviations) >= 150
    for key in ("UBND", "HĐND", "MTTQ", "UBMTTQ", "TT&TT", "GD&ĐT", "LĐ-TB&XH", "NN&PTNT", "TN&MT", "KT-XH",
                "CNTT-VT", "THPT", "THCS", "BHYT", "BHXH", "NTM", "PCCC", "PCTT", "TKCN", "CSGT", "ATGT",
                "HTX",
                "TP.HCM", "V/v", "Đ/c"):
        assert key in lex.abbreviations, key
    assert lex.abbreviations["TT&TT"] == "thông tin và truyền thông"
    for word in ("zalo", "facebook", "covid-19", "wi-fi"):
        assert word in lex.words
    tomllib.loads(SHIPPED_PATH.read_text(encoding="utf-8"))


def test_workspace_override_and_add(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    assert load_lexicon(path).abbreviations == default_lexicon().abbreviations
    lex = add_entry(path, "UBND", "ủy ban")
    assert normalize("UBND xã", lexicon=lex) == "ủy ban xã"
    lex = add_entry(path, "KHXH", "khoa học xã hội")
    assert normalize("Viện KHXH", lexicon=lex) == "viện khoa học xã hội"
    lex = add_entry(path, "Hamster", "ham xờ tơ", section="words")
    assert normalize("HAMSTER và hamster", lexicon=lex) == "ham xờ tơ và ham xờ tơ"
    # the file on disk is valid TOML and a fresh load sees the same entries
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["abbreviations"]["KHXH"] == "khoa học xã hội"
    assert load_lexicon(path).abbreviations["UBND"] == "ủy ban"
    assert workspace_entries(path)["words"] == {"hamster": "ham xờ tơ"}
    # removing the override brings the shipped reading back
    lex = remove_entry(path, "UBND")
    assert normalize("UBND xã", lexicon=lex) == "ủy ban nhân dân xã"
    assert not list(tmp_path.glob(".lexicon.toml.*"))  # no temp files left behind


def test_edited_file_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text('[abbreviations]\n"ABC" = "a bờ cờ"\n', encoding="utf-8")
    assert normalize("ABC", lexicon=load_lexicon(path)) == "a bờ cờ"
    path.write_text('[abbreviations]\n"ABC" = "anh bình chương xa"\n', encoding="utf-8")
    import os

    os.utime(path, ns=(1, 1))
    assert normalize("ABC", lexicon=load_lexicon(path)) == "anh bình chương xa"


@pytest.mark.parametrize(("content", "message"), [
    ("[abbreviations\n", "invalid TOML"),
    ('[slang]\n"A" = "b"\n', "unknown table [slang]"),
    ('[abbreviations]\n"UB ND" = "ủy ban"\n', "entry 'UB ND' in [abbreviations]"),
    ('[abbreviations]\n"UBND" = "ủy ban 2"\n', "entry 'UBND' in [abbreviations]: the reading"),
    ('[abbreviations]\n"UBND" = 3\n', "must be a string"),
    ("abbreviations = 3\n", "must be a table"),
])
def test_bad_file_names_file_and_entry(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_lexicon(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_bad_entries_rejected_by_add(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    with pytest.raises(ConfigError, match="no digits"):
        add_entry(path, "ABC", "a 1")
    with pytest.raises(ConfigError, match="unknown table"):
        add_entry(path, "ABC", "a", section="nope")
    with pytest.raises(ConfigError, match="no entry"):
        remove_entry(path, "ABC")
    assert not path.exists()


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_bytes(b'[abbreviations]\n"A" = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_lexicon(path)


def test_spell() -> None:
    assert spell("VTV") == "vê tê vê"
    assert spell("ĐBSCL") == "đê bê ét xê e lờ"
    assert spell("H5N1") == "hát en"
