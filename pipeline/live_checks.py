"""Live checks in the submission workbook: spreadsheet formulas that show, while the focal point types,
what the validation will say about breakdown sums, "of which" figures and changes on last year.

Input: a workbook built by `pipeline.template` (its Data sheet found by `workbook_contract` names) and
the `Reference`. Output: the same workbook with

- a hidden, protected sheet `workbook_contract.CHECKS_SHEET` holding, for each Data row, the flag
  codes of its Flag cell (column A, "?" when the cell is not a flag the validation accepts) and the
  number the rules would use (column B: the Value when it is a number the validation reports, else
  empty: blank, `:`, `<5`, text, a negative or fractional count, a confidential flag) and the row's
  message (column C: a short message per problem, empty when the row is fine);
- on the Data sheet, the `workbook_contract.COL_CHECK` column (locked), each cell showing its row's
  message, with conditional formatting on the message and on the Value cell;
- on the Cover, a line "n problems to fix before sending", or a reassuring text when there are none.

The formulas are generated from the reference data the rules use, with the rules' own semantics:
`breakdowns.csv` and `rules.check_breakdowns` (every part a number: the parts must add up to the
total exactly; some parts missing or confidential: those given must not exceed it; forms of
exploitation flagged `d` may exceed it), `consistency_pairs.csv` and `rules.check_consistency_pairs`
(part <= whole), and `rule_thresholds.csv` with rules T01 and T03 of `rules.check_time_series`
(a change on the Previous year value above `change_pct` % and above max(`change_abs_min`,
`change_share_of_mean` x the previous value), a fall to 0 from above `change_abs_min`, or a value
typed as not available where last year's was above 0, each without a comment; flag b silences T01). Plain functions only (ISNUMBER, COUNT, SUM, SUMPRODUCT, FIND,
SUBSTITUTE, IF): Excel and LibreOffice recalculate them; nothing runs as a macro.

The validation stays the judge. What the workbook cannot know, the live check leaves out: a number
typed as text (the validation reads '1 154'; the live check takes it as no number), flags written as
several words ("provisional, estimated"), and the years before the previous one (rule T01 compares
with the mean of up to three previous years; the live check with the previous year alone, which
differs only when the earlier years were more than ten times higher).
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname

from pipeline import rules, validate, workbook_contract
from pipeline.reference import TOTAL, Indicator, Reference
from pipeline.settings import Thresholds

PROBLEM_FILL = PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE")
PROBLEM_FONT = Font(color="FF9C0006")
FINE_FILL = PatternFill(fill_type="solid", start_color="FFC6EFCE", end_color="FFC6EFCE")
FINE_FONT = Font(color="FF006100")

# The flag codes rules.py acts on: `b` (break in series) silences T01; `d` lets forms of exploitation
# add up to more than the total (rules.MULTIPLE_COUNT_DIMENSIONS).
BREAK_FLAG = "b"
MULTIPLE_COUNT_FLAG = "d"
NOT_APPLICABLE_FLAG = "m"  # validate: a value not available and flagged m is not applicable, not a dropped series
# Separators between flag codes that `validate.parse_flags` accepts.
FLAG_SEPARATORS = tuple(validate.FLAG_SEPARATORS)
INVALID_FLAGS = "?"
CONFIDENTIALITY_KIND = "confidentiality"  # flags.csv kind: a value so flagged is confidential, not reported

MESSAGE_COLUMN = "C"  # on the helper sheet: each Data row's message, which its Check cell shows
COVER_LABEL = "Checks before sending"
NO_PROBLEMS_TEXT = "No problems found by the checks in this workbook."
CHECK_HEADER_NOTE = (
    "Filled in by the workbook itself while you type. It says when the parts of a breakdown do not add up to "
    "the total, when a figure is above the figure it is part of, or when a figure is far from last year's "
    "without a comment. Blank means no problem found. The Cover counts the problems."
)


def add_live_checks(wb: Workbook, ref: Reference, thresholds: Thresholds | None = None) -> None:
    """Add the check formulas, the hidden helper sheet and the Cover line to a template workbook `wb`.

    `thresholds`: those the validation uses (the settings' [validation] section may override the
    reference's); default `rules.load_thresholds()`.
    """
    thresholds = thresholds or rules.load_thresholds()
    data = wb[workbook_contract.DATA_SHEET]
    columns = {workbook_contract.normalise_label(c.value): get_column_letter(c.column) for c in data[1] if c.value is not None}
    col = {name: columns[workbook_contract.normalise_label(name)] for name in (
        workbook_contract.COL_CODE, workbook_contract.COL_BREAKDOWN, workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS,
        workbook_contract.COL_FLAG, workbook_contract.COL_COMMENT, workbook_contract.COL_CHECK)}
    rows: dict[tuple[str, str], int] = {}
    for row in range(2, data.max_row + 1):
        code = data[f"{col[workbook_contract.COL_CODE]}{row}"].value
        if code:
            rows[(str(code), str(data[f"{col[workbook_contract.COL_BREAKDOWN]}{row}"].value or TOTAL))] = row
    if not rows:
        return
    first, last = min(rows.values()), max(rows.values())
    cells = RowCells(data.title, col)

    helper = wb.create_sheet(workbook_contract.CHECKS_SHEET)
    for (code, _), row in rows.items():
        indicator = ref.indicator_by_code[code]
        helper[f"A{row}"] = "=" + flag_codes_formula(cells.flag(row), ref)
        helper[f"B{row}"] = "=" + used_number_formula(cells.value(row), cells.codes(row), indicator, ref)
    helper.sheet_state = "hidden"
    helper.protection.sheet = True

    # The long message formulas sit on the hidden helper sheet and each Check cell shows its row's
    # message: the Data sheet that focal points see, and ingest reads and measures, stays small.
    for (code, breakdown), row in rows.items():
        helper[f"{MESSAGE_COLUMN}{row}"] = "=" + check_formula(code, breakdown, rows, cells, ref, thresholds)
        data[f"{col[workbook_contract.COL_CHECK]}{row}"] = f"={quote_sheetname(workbook_contract.CHECKS_SHEET)}!{MESSAGE_COLUMN}{row}"
    check_letter = col[workbook_contract.COL_CHECK]
    data[f"{check_letter}1"].comment = Comment(CHECK_HEADER_NOTE, "BSEC Secretariat")
    flagged = f"LEN(${check_letter}{first})>0"
    for letter in (check_letter, col[workbook_contract.COL_VALUE]):
        data.conditional_formatting.add(f"{letter}{first}:{letter}{last}", FormulaRule(formula=[flagged], fill=PROBLEM_FILL, font=PROBLEM_FONT))

    _add_cover_summary(wb[workbook_contract.COVER_SHEET], problem_count_formula(data.title, check_letter, first, last))


class RowCells:
    """Cell references for the formulas, by Data row: on the Data sheet (`data_title`, its columns by
    name) and on the helper sheet."""

    def __init__(self, data_title: str, columns: dict[str, str]) -> None:
        self.data = quote_sheetname(data_title)
        self.helper = quote_sheetname(workbook_contract.CHECKS_SHEET)
        self.columns = columns

    def _data(self, name: str, row: int) -> str:
        return f"{self.data}!{self.columns[name]}{row}"

    def value(self, row: int) -> str:
        return self._data(workbook_contract.COL_VALUE, row)

    def previous(self, row: int) -> str:
        return self._data(workbook_contract.COL_PREVIOUS, row)

    def flag(self, row: int) -> str:
        return self._data(workbook_contract.COL_FLAG, row)

    def comment(self, row: int) -> str:
        return self._data(workbook_contract.COL_COMMENT, row)

    def codes(self, row: int) -> str:
        return f"{self.helper}!A{row}"

    def number(self, row: int) -> str:
        return f"{self.helper}!B{row}"

    def numbers(self, rows: Sequence[int]) -> str:
        """The helper number cells of `rows`: one range when they are consecutive (as the template writes them)."""
        ordered = sorted(rows)
        if ordered == list(range(ordered[0], ordered[-1] + 1)):
            return f"{self.helper}!B{ordered[0]}:B{ordered[-1]}"
        return ",".join(self.number(r) for r in ordered)

    def codes_of(self, rows: Sequence[int]) -> str:
        ordered = sorted(rows)
        if ordered == list(range(ordered[0], ordered[-1] + 1)):
            return f"{self.helper}!A{ordered[0]}:A{ordered[-1]}"
        return ",".join(self.codes(r) for r in ordered)


# -- helper sheet ------------------------------------------------------------------------------------
def flag_codes_formula(flag: str, ref: Reference) -> str:
    """The flag codes a Flag cell gives, as `validate.parse_flags` reads it: "" for a blank cell, the code
    of a drop-down word (any case), the codes typed (case matters: C is confidential, c is nothing), or
    "?" when the cell holds anything else (the validation leaves such a value out)."""
    typed = f"TRIM({flag})"
    leftover = typed
    for code in sorted(ref.flag_codes) + list(FLAG_SEPARATORS):
        leftover = f'SUBSTITUTE({leftover},"{code}","")'  # SUBSTITUTE is case-sensitive, as flag codes are
    formula = f'IF(LEN({leftover})=0,{typed},"{INVALID_FLAGS}")'
    for flag_row in reversed(ref.flags):
        formula = f'IF(LOWER({typed})="{flag_row.word.casefold()}","{flag_row.code}",{formula})'
    return f'IF({typed}="","",{formula})'


def used_number_formula(value: str, codes: str, indicator: Indicator, ref: Reference) -> str:
    """The number the breakdown, part-whole and change rules would use from a Value cell, else "".

    A number, 0 or more (whole for a count), whose Flag cell is valid and not confidential: what
    validation calls "reported". Text (`:`, `<5`, `n/a`, '1 154') gives "": ISNUMBER guards every test.
    """
    tests = [f"{value}>=0"]
    if indicator.is_count:
        tests.append(f"{value}=INT({value})")
    tests.append(f'{codes}<>"{INVALID_FLAGS}"')
    tests += [f'ISERROR(FIND("{f.code}",{codes}))' for f in ref.flags if f.kind == CONFIDENTIALITY_KIND]
    return f'IF(ISNUMBER({value}),IF(AND({",".join(tests)}),{value},""),"")'


# -- checks --------------------------------------------------------------------------------------------
def check_formula(code: str, breakdown: str, rows: dict[tuple[str, str], int], cells: RowCells, ref: Reference, thresholds: Thresholds) -> str:
    """The Check cell of the row of (`code`, `breakdown`): its messages joined, "" when none applies."""
    indicator = ref.indicator_by_code[code]
    row = rows[(code, breakdown)]
    messages: list[str] = []
    if breakdown == TOTAL:
        for dim, parts in ref.breakdown_parts(indicator):
            part_rows = [rows[p] for p in parts if p in rows]
            if part_rows:
                messages.append(breakdown_message(dim, row, part_rows, cells, ref))
    for pair in ref.consistency_pairs:
        whole_row = rows.get((pair.whole, breakdown))
        if pair.part == code and whole_row is not None:
            messages.append(pair_message(row, whole_row, ref.indicator_by_code[pair.whole], breakdown, cells, ref))
    messages.append(change_message(row, indicator, _left_out(code, breakdown, rows, cells, ref), cells, thresholds))
    messages.append(not_available_message(row, indicator, cells))
    return f"TRIM({'&'.join(messages)})"


def breakdown_fails(dim: str, total_row: int, part_rows: Sequence[int], cells: RowCells) -> str:
    """True when `rules.check_breakdowns` gives an error for this dimension: a total, some parts, and
    either every part given and a sum other than the total, or some parts missing and a sum above it.
    Forms of exploitation flagged d whose sum is above the total are kept (a warning), not an error."""
    total, numbers = cells.number(total_row), cells.numbers(part_rows)
    count, total_sum, size = f"COUNT({numbers})", f"SUM({numbers})", len(part_rows)
    # N(): the total as 0 when it is no number, so that no comparison with text is made (AND evaluates every test).
    known = f"N({total})"
    tests = [f"ISNUMBER({total})", f"{count}>0"]
    if dim in rules.MULTIPLE_COUNT_DIMENSIONS:
        with_flag = f'SUMPRODUCT(ISNUMBER({numbers})*ISNUMBER(FIND("{MULTIPLE_COUNT_FLAG}",{cells.codes_of(part_rows)})))>0'
        tests.append(f"NOT(AND({with_flag},{total_sum}>{known}))")
    tests.append(f"OR(AND({count}={size},{total_sum}<>{known}),AND({count}<{size},{total_sum}>{known}))")
    return f"AND({','.join(tests)})"


def breakdown_message(dim: str, total_row: int, part_rows: Sequence[int], cells: RowCells, ref: Reference) -> str:
    """"By sex: parts add up to 539, total is 549. " (every part given), or the parts given exceed the total."""
    total, numbers = cells.number(total_row), cells.numbers(part_rows)
    name = f"By {dimension_name(dim, ref)}: "
    complete = f'"{name}parts add up to "&SUM({numbers})&", total is "&{total}&". "'
    partial = f'"{name}the parts filled in add up to "&SUM({numbers})&", more than the total "&{total}&". "'
    return f'IF({breakdown_fails(dim, total_row, part_rows, cells)},IF(COUNT({numbers})={len(part_rows)},{complete},{partial}),"")'


def dimension_name(dim: str, ref: Reference) -> str:
    """The plain name of a breakdown dimension, from the label of its unknown part in breakdowns.csv
    ("Sex unknown" -> "sex", "Form of exploitation unknown" -> "form of exploitation"); else the code."""
    for _, label in ref.breakdown_values.get(dim, ()):
        if label.casefold().endswith(" unknown"):
            return label[: -len(" unknown")].casefold()
    return dim


def pair_fails(part_row: int, whole_row: int, cells: RowCells) -> str:
    part, whole = cells.number(part_row), cells.number(whole_row)
    return f"AND(ISNUMBER({part}),ISNUMBER({whole}),N({part})>N({whole}))"


def pair_message(part_row: int, whole_row: int, whole: Indicator, breakdown: str, cells: RowCells, ref: Reference) -> str:
    """'More than “Corruption offences recorded” (120). ' when the part is above its whole."""
    label = whole.label if breakdown == TOTAL else f"{whole.label}: {ref.breakdown_label(breakdown)}"
    label = label.replace('"', "'")
    return f'IF({pair_fails(part_row, whole_row, cells)},"More than “{label}” ("&{cells.number(whole_row)}&"). ","")'


def _left_out(code: str, breakdown: str, rows: dict[tuple[str, str], int], cells: RowCells, ref: Reference) -> list[str]:
    """Conditions under which the validation leaves this row's value out before the time rules: a
    part of a breakdown in error, or an "of which" above its whole whose finding drops the value."""
    indicator = ref.indicator_by_code[code]
    conditions = []
    total_row = rows.get((code, TOTAL))
    for dim, parts in ref.breakdown_parts(indicator):
        if (code, breakdown) in parts and total_row is not None:
            conditions.append(breakdown_fails(dim, total_row, [rows[p] for p in parts if p in rows], cells))
    for pair in ref.consistency_pairs:
        whole_row = rows.get((pair.whole, breakdown))
        if pair.part == code and whole_row is not None and ref.finding_codes[pair.code].effect == "drop-value":
            conditions.append(pair_fails(rows[(code, breakdown)], whole_row, cells))
    return conditions


def change_message(row: int, indicator: Indicator, left_out: Sequence[str], cells: RowCells, thresholds: Thresholds) -> str:
    """Rules T03 (a fall to 0 from above `change_abs_min`) and T01 (a change above `change_pct` % and
    above max(`change_abs_min`, `change_share_of_mean` x last year)) against the Previous year value,
    when the Comment is empty; flag b silences T01. Nested IFs: arithmetic only on numbers."""
    value, previous, comment, codes = cells.number(row), cells.previous(row), cells.comment(row), cells.codes(row)
    previous_ok = [f"{previous}>=0"] + ([f"{previous}=INT({previous})"] if indicator.is_count else [])
    change = f"ABS({value}-{previous})"
    large = f"AND({change}/{previous}*100>{_number(thresholds.change_pct)},{change}>{_number(thresholds.change_abs_min)},{change}>MAX({_number(thresholds.change_abs_min)},{_number(thresholds.change_share_of_mean)}*{previous}))"
    percent = f'IF({value}>{previous},"+","")&ROUND(({value}-{previous})/{previous}*100,0)'
    changed = f'IF(AND(ISERROR(FIND("{BREAK_FLAG}",{codes})),{previous}>0),IF({large},{value}&" against "&{previous}&" last year ("&{percent}&" %): check it, or explain it in the Comment. ",""),"")'
    dropped = f"AND({previous}>0,{value}=0,{previous}>{_number(thresholds.change_abs_min)})"
    fell = f'"0 against "&{previous}&" last year: check it, or explain it in the Comment. "'
    formula = f'IF(LEN(TRIM({comment}))=0,IF({dropped},{fell},{changed}),"")'
    formula = f'IF(AND({",".join(previous_ok)}),{formula},"")'
    formula = f'IF(ISNUMBER({previous}),{formula},"")'
    if left_out:
        formula = f'IF(OR({",".join(left_out)}),"",{formula})'
    return f'IF(ISNUMBER({value}),{formula},"")'


def not_available_message(row: int, indicator: Indicator, cells: RowCells) -> str:
    """Rule T03 for a value typed as not available (`:`, `n/a`, ...; not flagged m, not applicable)
    where last year's was above 0, when the Comment is empty. A blank cell is left to the validation
    (`value-blank-unexplained`): an unfilled template would otherwise show a problem on every row."""
    value, previous, comment, codes = cells.value(row), cells.previous(row), cells.comment(row), cells.codes(row)
    typed = f"LOWER(TRIM({value}))"
    tokens = ",".join(f'{typed}="{token}"' for token in sorted(validate.NOT_AVAILABLE_TOKENS))
    tests = [f"OR({tokens})", f'{codes}<>"{INVALID_FLAGS}"', f'ISERROR(FIND("{NOT_APPLICABLE_FLAG}",{codes}))', f"{previous}>0", f"LEN(TRIM({comment}))=0"]
    if indicator.is_count:
        tests.append(f"{previous}=INT({previous})")
    message = f'"Not available, against "&{previous}&" last year: explain it in the Comment. "'
    return f'IF(AND(ISTEXT({value}),ISNUMBER({previous})),IF(AND({",".join(tests)}),{message},""),"")'


def _number(x: float) -> str:
    """A threshold as a formula literal: 10.0 -> "10", 0.05 -> "0.05"."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# -- Cover ---------------------------------------------------------------------------------------------
def problem_count_formula(data_title: str, check_letter: str, first: int, last: int) -> str:
    """How many Check cells hold a message."""
    return f"SUMPRODUCT(--(LEN({quote_sheetname(data_title)}!${check_letter}${first}:${check_letter}${last})>0))"


def cover_summary_formula(count: str) -> str:
    """The Cover line: how many problems the Check column shows, or the reassuring text when none."""
    where = ': see the Check column of the Data sheet.'
    return f'IF({count}=0,"{NO_PROBLEMS_TEXT}",IF({count}=1,"1 problem to fix before sending{where}",{count}&" problems to fix before sending{where}"))'


def _add_cover_summary(cover, count: str) -> None:
    row = cover.max_row + 2
    cover.cell(row=row, column=1, value=COVER_LABEL).font = Font(bold=True)
    summary = cover.cell(row=row, column=2, value="=" + cover_summary_formula(count))
    cover.conditional_formatting.add(summary.coordinate, FormulaRule(formula=[f"{count}>0"], fill=PROBLEM_FILL, font=PROBLEM_FONT))
    cover.conditional_formatting.add(summary.coordinate, FormulaRule(formula=[f"{count}=0"], fill=FINE_FILL, font=FINE_FONT))
