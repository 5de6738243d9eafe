"""`studio text normalize` and `studio text explain`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from studio.cli import main


def test_normalize_one_line_per_line(tmp_path: Path) -> None:
    stdin = "Ngày 2/9\n\n😀\nBộ TT&TT\r\nCó 105 hộ".encode()
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "text", "normalize"], input=stdin)
    assert result.exit_code == 0, result.output
    assert result.output.split("\n") == [
        "ngày mùng hai tháng chín", "", "", "bộ thông tin và truyền thông", "có một trăm linh năm hộ", ""]


def test_normalize_region_and_workspace_lexicon(tmp_path: Path) -> None:
    (tmp_path / "lexicon.toml").write_text('[abbreviations]\n"UBND" = "ủy ban"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["text", "normalize", "--region", "nam", "--home", str(tmp_path)],
                                input="UBND có 1.005 hộ\n".encode())
    assert result.exit_code == 0
    assert result.output == "ủy ban có một ngàn không trăm lẻ năm hộ\n"


def test_bad_workspace_lexicon_exits_with_usage(tmp_path: Path) -> None:
    (tmp_path / "lexicon.toml").write_text('[abbreviations]\n"UBND" = 1\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "text", "normalize"], input=b"x\n")
    assert result.exit_code == 2
    assert "lexicon.toml" in result.output and "UBND" in result.output


def test_invalid_utf8_does_not_crash(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "text", "normalize"], input=b"ab\xffcd\n12\n")
    assert result.exit_code == 0
    assert result.output.count("\n") == 2 and "mười hai" in result.output


def test_explain_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "text", "explain", "Bộ TT&TT họp lúc 7h30"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "TT&TT\tabbreviation\tthông tin và truyền thông\t*" in lines
    assert "7h30\ttime\tbảy giờ ba mươi phút\t*" in lines
    assert lines[-1] == "=\t\tbộ thông tin và truyền thông họp lúc bảy giờ ba mươi phút"
