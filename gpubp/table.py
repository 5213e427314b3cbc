"""Text tables (CSV and its cousins): the cells of a file as the file has them.

:func:`read` gives a :class:`Table`: the column names, the rows of cells (text, stripped) and, for
each row, the line of the file it starts on (1-based, as an editor shows it; blank lines skipped),
so that every message about the data can name the file's own line and column.

- **The separator** is a comma, a semicolon, a tab or spaces (any run of spaces and tabs): the
  one that splits the first lines into the same number of fields (two or more), the most fields
  winning, a comma before a semicolon before a tab before spaces on a tie. ``separator=`` names
  it instead.
- **The header**: the first row names the columns if some column holds numbers below a first cell
  that is not one (``a,b,label`` over ``1,2,cat``); a first row of numbers is data, and so is a
  first row whose only words sit in a column of words (``5.1,3.5,setosa``: a label, not a name).
  Without a header the columns are named ``column 1``, ``column 2``, ... ``header=True`` or
  ``False`` says it instead.
"""

import csv
import dataclasses
import io
import math

from .errors import DataError

#: each separator by its name (the command line's --separator takes these names); " " splits
#: at runs of spaces and tabs
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", " ": "space"}
_SNIFF_LINES = 50


def separator_names():
    """``"comma, semicolon, tab or space"``: the separators by name, for messages and help."""
    names = list(SEPARATORS.values())
    return f"{', '.join(names[:-1])} or {names[-1]}"


@dataclasses.dataclass
class Table:
    """``names``: one per column; ``rows``: lists of cells (str); ``lines``: the file line each row
    starts on; ``header``: the line of the header row (None when the file has none)."""

    path: str
    names: list
    rows: list
    lines: list
    header: int
    separator: str

    def where(self, i, j):
        """Row ``i``, column ``j`` as the file has them: ``line 7, column 2 ('b')``."""
        name = "" if self.header is None else f" ({self.names[j]!r})"
        return f"line {self.lines[i]}, column {j + 1}{name}"


def number(s):
    """The finite number a cell holds, else None."""
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _is_number(s):
    try:
        float(s)
    except ValueError:
        return False
    return True


def read(path, header=None, separator=None):
    """The :class:`Table` of the text file at ``path`` (see the module docstring)."""
    if header not in (None, True, False):
        raise DataError(f"header must be True, False or None (tell from the data); "
                        f"got {header!r}")
    if separator is not None and separator not in SEPARATORS:
        raise DataError(f"separator must be one of {', '.join(map(repr, SEPARATORS))} or None "
                        f"(tell from the data); got {separator!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1
        raise DataError(f"{path}: not a text CSV file in UTF-8 ({e.reason} on line {line}, byte "
                        f"{e.start}); save it as UTF-8") from None
    if separator is None:
        separator = _sniff(path, text)
    rows, lines = _split(path, text, separator)
    if not rows:
        raise DataError(f"{path}: the file is empty; a CSV needs rows of values, one example per "
                        f"line")
    if header is None:
        header = _has_header(rows)
    if not header:
        names = [f"column {j + 1}" for j in range(len(rows[0]))]
        return Table(path, names, rows, lines, None, separator)
    names = rows[0]
    seen = set()
    for j, h in enumerate(names):
        if not h:
            raise DataError(f"{path}: column {j + 1} has no name in the header row (line "
                            f"{lines[0]})")
        if h in seen:
            raise DataError(f"{path}: two columns are named {h!r} (line {lines[0]})")
        seen.add(h)
    return Table(path, names, rows[1:], lines[1:], lines[0], separator)


def _split(path, text, separator):
    """``(rows, lines)``: the non-blank rows of cells and the line each starts on."""
    rows, lines = [], []
    if separator == " ":
        for n, line in enumerate(text.splitlines(), 1):
            cells = line.split()
            if cells:
                rows.append(cells)
                lines.append(n)
        return rows, lines
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    end = 0
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            cells = [c.strip() for c in cells]
            if any(cells):
                rows.append(cells)
                lines.append(start)
    except csv.Error as e:
        raise DataError(f"{path}: line {end + 1} is not readable CSV ({e})") from None  # its start
    return rows, lines


def _sniff(path, text):
    """The separator that splits the first lines alike into the most fields (see the docstring)."""
    sample = [line for line in text.splitlines() if line.strip()][:_SNIFF_LINES]
    if not sample:
        return ","
    best, best_fields = None, 1
    for sep in SEPARATORS:
        if sep == " ":
            counts = {len(line.split()) for line in sample}
        else:
            counts = {len(r) for r in csv.reader(sample, delimiter=sep)}
        fields = counts.pop() if len(counts) == 1 else 0
        if fields > best_fields:
            best, best_fields = sep, fields
    if best is not None:
        return best
    # no separator splits every line alike: the one that splits the first line, if any
    first = {sep: len(_fields(sample[0], sep)) for sep in SEPARATORS}
    sep = max(SEPARATORS, key=lambda s: (first[s], -list(SEPARATORS).index(s)))
    return sep if first[sep] > 1 else ","


def _fields(line, sep):
    return line.split() if sep == " " else next(csv.reader([line], delimiter=sep))


def _has_header(rows):
    first, body = rows[0], rows[1:1 + 1000]
    if all(_is_number(c) for c in first):
        return False
    if not body:
        return True
    for j, cell in enumerate(first):
        if not cell or _is_number(cell):
            continue
        below = [r[j] for r in body if j < len(r) and r[j]]
        if below and all(_is_number(c) for c in below):
            return True  # a word over a column of numbers: a name
    return False
