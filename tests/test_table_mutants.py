"""gpubp/table.py through its public face (the gaps a mutation run found): the cells, lines,
header and separator :func:`table.read` gives, :func:`table.number`, and a Table's places."""

import pytest

from gpubp import table
from gpubp.errors import DataError


def read(tmp_path, text, **kwargs):
    path = tmp_path / "t.csv"
    path.write_text(text, newline="")
    return table.read(str(path), **kwargs)


@pytest.mark.parametrize("cell, value", [("1.5", 1.5), (" -2 ", -2.0), ("1e3", 1000.0),
                                         ("inf", None), ("-inf", None), ("nan", None),
                                         ("", None), ("x", None)])
def test_number(cell, value):
    assert table.number(cell) == value


def test_read_gives_names_rows_lines_header_and_separator(tmp_path):
    t = read(tmp_path, "\na , b,t\n\n1, 2 ,x\n3,4,y\n")
    assert t.names == ["a", "b", "t"] and t.header == 2 and t.separator == ","
    assert t.rows == [["1", "2", "x"], ["3", "4", "y"]] and t.lines == [4, 5]
    assert t.where(1, 2) == "line 5, column 3 ('t')"


def test_read_without_a_header_names_the_columns_by_position(tmp_path):
    t = read(tmp_path, "1;2;0\n3;4;1\n")
    assert t.names == ["column 1", "column 2", "column 3"] and t.header is None
    assert t.separator == ";" and t.rows[0] == ["1", "2", "0"] and t.lines == [1, 2]
    assert t.where(0, 1) == "line 1, column 2"


def test_whitespace_separated_rows_skip_blank_lines(tmp_path):
    t = read(tmp_path, "a b\n\n  \n1   2\n3 4\n")
    assert t.separator == " " and t.names == ["a", "b"]
    assert t.rows == [["1", "2"], ["3", "4"]] and t.lines == [4, 5]


def test_the_header_told_is_taken(tmp_path):
    t = read(tmp_path, "1,2\n3,4\n", header=True)
    assert t.names == ["1", "2"] and t.header == 1 and t.rows == [["3", "4"]]
    t = read(tmp_path, "a,b\n3,4\n", header=False)
    assert t.header is None and t.rows == [["a", "b"], ["3", "4"]]


@pytest.mark.parametrize("text, header", [
    ("a,b\n", True),                       # a row of words alone: names
    ("1,2\n", False),                      # a row of numbers alone: data
    ("a,b\nx,y\n", False),                 # words over words: labels
    ("a,b\n1,y\n", True),                  # one word over a number
    ("a,b\nx,1\n", True),                  # the other column decides
    ("1,b\n2,3\n", True),                  # a number may be a name when another word is one
    (",b\n,y\n", False),                   # an empty first cell and words below: data
    ("a,b\n,y\n", False),                  # nothing below a: no evidence
    ("a,b\n1\n", True),                    # a short row: the column is read where it exists
    ("a,b\nx\n", False),                   # a short row: no cell below b, no evidence
    ("a,b\n1,y\nx,3\n", False),            # a word below each: label columns
])
def test_the_header_is_told_from_the_rows(tmp_path, text, header):
    # the separator told, so that one-column rows are not a sniffing question
    t = table.read(str(_write(tmp_path, text)), separator=",")
    assert (t.header is not None) is header


def _write(tmp_path, text):
    path = tmp_path / "h.csv"
    path.write_text(text)
    return path


def test_the_header_looks_at_the_first_1000_rows(tmp_path):
    body = "1\n" * 1000 + "x\n"   # row 1001 is a word: beyond what is looked at
    assert read(tmp_path, "a\n" + body, separator=",").header == 1
    body = "1\n" * 999 + "x\n"    # row 1000 is a word: a column of labels
    assert read(tmp_path, "a\n" + body, separator=",").header is None


@pytest.mark.parametrize("text, sep", [
    ("a,b;c\n1,2;3\n", ","),             # a tie of fields: the comma first
    ("a;b;c,d\n1;2;3,4\n", ";"),          # more fields wins
    ("a\tb\n1\t2\n", "\t"),                # a tab before whitespace on a tie
    ("a;b\n1;2\n", ";"),                  # a semicolon before whitespace? 2 fields each: ;
    ("a b\tc d\n1 2\t3 4\n", " "),        # whitespace: 3 fields, tab 2
    ("one\ntwo\n", ","),                  # nothing splits: a comma
])
def test_the_separator_splitting_every_line_alike_into_the_most_fields(tmp_path, text, sep):
    assert read(tmp_path, text).separator == sep


def test_no_separator_splits_every_line_alike_then_the_first_line_decides(tmp_path):
    # the comma splits line 1 into 3, line 2 into 2; the semicolon line 1 into 2
    assert read(tmp_path, "a,b,c;d\n1,2\n", header=False).separator == ","
    assert read(tmp_path, "a;b;c,d\n1;2\n", header=False).separator == ";"
    # a tie on the first line: the earlier separator
    assert read(tmp_path, "a;b,c\n1;2;3,4,5\n", header=False).separator == ","
    assert read(tmp_path, "a\tb\n1\t2\t3\n", header=False).separator == "\t"
    # one field on the first line whatever the separator: a comma
    assert read(tmp_path, "ab\n1;2\n", header=False).separator == ","


def test_sniffing_reads_the_first_50_lines(tmp_path):
    # in the first 50 lines the comma and the semicolon both split every line into 2: the comma
    # wins the tie; line 51 (3 comma fields) is not looked at, else the semicolon would win
    text = "a;b,c\n" * 50 + "a;b,c,d\n"
    assert read(tmp_path, text, header=False).separator == ","
    assert read(tmp_path, "a;b,c\n" * 49 + "a;b,c,d\n", header=False).separator == ";"


def test_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(DataError, match=r"two columns are named 'a' \(line 2\)"):
        read(tmp_path, "\na,a\n1,2\n")
    with pytest.raises(DataError, match=r"column 2 has no name in the header row \(line 1\)"):
        read(tmp_path, "a,,c\n1,2,3\n", header=True)
    with pytest.raises(DataError, match="the file is empty"):
        read(tmp_path, "\n \n")
    with pytest.raises(DataError, match=r"not a text CSV file in UTF-8 \(.* on line 2, byte 4\)"):
        (tmp_path / "b.csv").write_bytes(b"a,b\n\xff,1\n")
        table.read(str(tmp_path / "b.csv"))


def test_an_unreadable_row_is_named_by_its_first_line(tmp_path):
    huge = "x" * 140_000  # over the csv module's field limit
    with pytest.raises(DataError, match=r"t.csv: line 3 is not readable CSV \(field larger"):
        read(tmp_path, f"a,b\n1,2\n{huge},3\n4,5\n", separator=",")
    with pytest.raises(DataError, match=r"t.csv: line 4 is not readable CSV"):
        read(tmp_path, f'a,b\n1,2\n\n"a\nb{huge}",3\n4,5\n', separator=",")


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("a,b\n1,2\n".encode("utf-8-sig"))
    assert table.read(str(path)).names == ["a", "b"]
