"""The workbook layout's helpers (pipeline/workbook_contract.py)."""

from __future__ import annotations

from openpyxl.utils import get_column_letter

from pipeline import workbook_contract


def test_column_letters_are_excels():
    assert [workbook_contract.column_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702, 16383)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"]
    assert all(workbook_contract.column_letter(i) == get_column_letter(i + 1) for i in range(0, 18278, 7))  # openpyxl stops at ZZZ
