import logging

import pytest

from alt_common.errors import UserError
from alt_common.labels import normalize_label, read_label_file, read_labels


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ApplyEyeMakeup", "apply eye makeup"),
        ("YoYo", "yo yo"),
        ("PlayingDaf", "playing daf"),
        ("brush_hair", "brush hair"),
        ("  Playing   Guitar ", "playing guitar"),
        ("passing American football (in game)", "passing american football (in game)"),
        ("TaiChi", "tai chi"),
    ],
)
def test_normalize_label_splits_camel_case_and_underscores(raw, expected):
    assert normalize_label(raw) == expected


def test_txt_file_skips_comments_and_blank_lines(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("# header comment\nplaying guitar\n\n   \n  # indented comment\nabseiling\n")
    f = read_label_file(path)
    assert f.labels == ["playing guitar", "abseiling"]
    assert len(f.sha256) == 64


def test_csv_with_name_column_in_any_position(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text('name,id\n"riding, or walking with horse",0\nApplyLipstick,1\n')
    assert read_label_file(path).labels == ["riding, or walking with horse", "apply lipstick"]


def test_csv_detected_by_header_even_with_txt_suffix(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("id,name\n0,abseiling\n1,air drumming\n")
    assert read_label_file(path).labels == ["abseiling", "air drumming"]


def test_sha256_is_of_the_file_bytes(tmp_path):
    import hashlib

    path = tmp_path / "labels.txt"
    path.write_bytes(b"\xef\xbb\xbfdancing\r\nclapping\r\n")
    f = read_label_file(path)
    assert f.labels == ["dancing", "clapping"]
    assert f.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_duplicates_across_files_are_dropped_with_a_warning(tmp_path, caplog):
    a, b = tmp_path / "a.txt", tmp_path / "b.csv"
    a.write_text("Archery\nbowling\n")
    b.write_text("id,name\n0,archery\n1,Bowling\n2,PlayingDaf\n")
    with caplog.at_level(logging.WARNING):
        labels, files = read_labels([a, b])
    assert labels == ["archery", "bowling", "playing daf"]
    assert [len(f.labels) for f in files] == [2, 3]
    assert "2 duplicate label(s) ignored ('archery', 'bowling')" in caplog.text
    assert len([r for r in caplog.records if "duplicate" in r.getMessage()]) == 1


def test_reference_lists_parse(shared_labels):
    labels, _ = read_labels([shared_labels / n for n in ("kinetics_400_labels.csv", "hmdb_51_labels.csv", "ucf_101_labels.csv")])
    assert len(labels) == 530  # K400 ∪ HMDB-51 ∪ UCF-101 once UCF's CamelCase is split (shared/data/SOURCES.md)
    assert "apply eye makeup" in labels and "brush hair" in labels


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no labels found"),
        (b"# only a comment\n\n", "no labels found"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"),
        (b"dancing\n\xff\xfeoops\n", ":2: not valid UTF-8"),
        (b"id,label\n0,dancing\n", ":1: CSV header has no 'name' column"),
        (b"id,name\n0,dancing\n1,\n", ":3: row has no value in the 'name' column"),
        (b"dancing\n1234\n", ":2: label '1234' has no letters"),
    ],
)
def test_bad_label_files_raise_one_actionable_error(tmp_path, content, message):
    path = tmp_path / ("labels.csv" if content.startswith(b"id,") else "labels.txt")
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as exc:
        read_label_file(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="label file not found"):
        read_label_file(tmp_path / "nope.txt")
    with pytest.raises(UserError, match="is a folder"):
        read_label_file(tmp_path)
