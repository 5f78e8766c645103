"""Submission tracker: every member state expected for a year, what it sent, when, and what became of it.

Input: the submissions table (`validate.SUBMISSION_COLUMNS`, one row per file after validation and
resubmissions; other years' files and history rows are passed over), the `Reference` (who is a member
that year), the deadline and today's date. Output: the tracker frame (`STATUS_COLUMNS`), one row per
member state expected, in the reference's order, then one row per file of the year that no member
state could be attributed to. The CLI prints it and writes it as `<outputs>/<year>/status.csv`.
Nothing here reads inputs or writes outputs.

Status of a member state (of the file in use; else of its latest file):
    valid           in use, no error and no warning
    with-warnings   in use, warnings to confirm or explain, no error
    with-errors     in use, but the values in error are left out until corrected
    rejected        received, nothing used (a structural error, or --strict)
    missing         nothing received for the year

`days_late` counts days after the deadline: date submitted (the Cover's) − deadline, 0 when on time,
empty when the Cover gives no date. For a missing state: days from the deadline to today, empty
until the deadline has passed.

A file sent for the year by its name or folder (`2026/MKD_2026.xlsx`) whose Cover gives another year
or state counts for what its Cover says (the `cover-year-mismatch` and `cover-country-mismatch`
warnings); `moved_files` lists them, and the note of the state the name gives says where the file went.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipeline import workbook_contract
from pipeline.reference import Reference

MOVED_COLUMNS = ["file", "named_iso3", "country_iso3", "year", "status", "note"]
STATUS_COLUMNS = ["country_iso3", "state", "status", "file", "date_submitted", "days_late", "n_errors", "n_warnings", "note"]

VALID = "valid"
WITH_WARNINGS = "with-warnings"
WITH_ERRORS = "with-errors"
REJECTED = "rejected"
MISSING = "missing"
IN_USE = ("accepted", "accepted-with-warnings", "accepted-with-errors")
NOT_SUBMISSIONS = ("ignored", "history")  # not workbooks, or published data: never a state's submission


def build_status(submissions: pd.DataFrame, ref: Reference, year: int, deadline: dt.date, today: dt.date) -> pd.DataFrame:
    """The tracker of `year`: one row per member state expected, then the files no state could be given."""
    files = _files_of_year(submissions, year)
    rows = []
    for iso3 in ref.members_in(year):
        own = files[(files["country_iso3"] == iso3) & files["year"].notna()]
        rows.append(_state_row(iso3, ref.state_by_iso3[iso3].name, own, deadline, today))
    attributed = files["country_iso3"].isin(ref.members_in(year)) & files["year"].notna()
    for sub in files[~attributed].itertuples(index=False):
        row = _file_row(sub, deadline)
        why = "reporting year not readable" if sub.country_iso3 in ref.state_by_iso3 else "member state not identified"
        name = ref.state_by_iso3[sub.country_iso3].name if sub.country_iso3 in ref.state_by_iso3 else ""
        rows.append({**row, "country_iso3": sub.country_iso3, "state": name, "note": _joined(why, row["note"])})
    for moved in moved_files(submissions, ref, year).itertuples(index=False):
        for row in rows:
            if row["country_iso3"] == moved.named_iso3 and row["state"]:
                row["note"] = _joined(row["note"], moved.note)
                break
    return pd.DataFrame(rows, columns=STATUS_COLUMNS).astype({"days_late": "Int64", "n_errors": "Int64", "n_warnings": "Int64"})


def moved_files(submissions: pd.DataFrame, ref: Reference, year: int) -> pd.DataFrame:
    """Files whose name or folder says `year` that went to another year, and files of `year` whose name
    gives another state: each counts for what its Cover says (`MOVED_COLUMNS`, `named_iso3` the state
    the name gives, else the Cover's; `note` says where the file went)."""
    rows = []
    for sub in submissions.itertuples(index=False):
        if sub.status in NOT_SUBMISSIONS or pd.isna(sub.year) or not isinstance(sub.country_iso3, str) or not sub.country_iso3:
            continue
        claims = workbook_contract.name_claims(sub.file, ref.state_by_iso3)
        named_iso3 = claims.iso3 or sub.country_iso3
        other_year = int(sub.year) != year and year in (claims.folder_year, claims.name_year)
        other_state = int(sub.year) == year and named_iso3 != sub.country_iso3
        if not (other_year or other_state):
            continue
        went = " ".join(part for part in (sub.country_iso3 if named_iso3 != sub.country_iso3 else "", str(int(sub.year)) if other_year else "") if part)
        note = f"{sub.file} went to {went}, as its Cover says ({sub.status})"
        rows.append({"file": sub.file, "named_iso3": named_iso3, "country_iso3": sub.country_iso3, "year": int(sub.year), "status": sub.status, "note": note})
    return pd.DataFrame(rows, columns=MOVED_COLUMNS).astype({"year": "int64"})


def _files_of_year(submissions: pd.DataFrame, year: int) -> pd.DataFrame:
    """The year's files, and those whose year could not be read (they may be for any year)."""
    frame = submissions.copy()
    frame["year"] = pd.to_numeric(frame["year"], errors="coerce")
    frame["country_iso3"] = frame["country_iso3"].fillna("").astype(str)
    frame["date_submitted"] = frame["date_submitted"].fillna("").astype(str)
    frame["reason"] = frame["reason"].fillna("").astype(str)
    keep = ((frame["year"] == year) | frame["year"].isna()) & ~frame["status"].isin(NOT_SUBMISSIONS)
    return frame[keep].sort_values(["date_submitted", "file"], kind="stable")


def _state_row(iso3: str, name: str, own: pd.DataFrame, deadline: dt.date, today: dt.date) -> dict[str, object]:
    if own.empty:
        late = (today - deadline).days if today > deadline else pd.NA
        return {"country_iso3": iso3, "state": name, "status": MISSING, "file": "", "date_submitted": "", "days_late": late, "n_errors": pd.NA, "n_warnings": pd.NA, "note": ""}
    in_use = own[own["status"].isin(IN_USE)]
    # The file in use; without one, the latest file sent (sorted by date submitted, then name).
    chosen = in_use.iloc[-1] if len(in_use) else own.iloc[-1]
    row = _file_row(chosen, deadline)
    others = [f"{other.file} ({other.status})" for other in own.itertuples(index=False) if other.file != chosen["file"]]
    note = _joined(row["note"], f"also received: {', '.join(others)}" if others else "")
    return {**row, "country_iso3": iso3, "state": name, "note": note}


def _file_row(sub, deadline: dt.date) -> dict[str, object]:
    get = sub.get if isinstance(sub, pd.Series) else lambda name: getattr(sub, name)
    status, n_errors, n_warnings = get("status"), int(get("n_errors")), int(get("n_warnings"))
    if status in IN_USE:
        # The file's own status decides, so the tracker, submissions.csv and the report say the same.
        word = {"accepted": VALID, "accepted-with-warnings": WITH_WARNINGS, "accepted-with-errors": WITH_ERRORS}[status]
        note = get("reason") if status == "accepted-with-errors" else ""
    else:
        word, note = REJECTED, get("reason")
    submitted = _date(get("date_submitted"))
    if submitted is None:
        late: object = pd.NA
        note = _joined(note, "no date submitted on the Cover")
    else:
        late = max(0, (submitted - deadline).days)
    return {"status": word, "file": get("file"), "date_submitted": submitted.isoformat() if submitted else "", "days_late": late, "n_errors": n_errors, "n_warnings": n_warnings, "note": note}


def _joined(*parts: str) -> str:
    """Notes in one cell: "a; b" (a reason's closing full stop dropped)."""
    return "; ".join(part.strip().rstrip(".") for part in parts if part and part.strip())


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def status_counts(tracker: pd.DataFrame) -> dict[str, int]:
    """How many member states (and unattributed files) are in each status, in the order of the docstring."""
    counts = tracker["status"].value_counts().to_dict()
    return {word: int(counts.get(word, 0)) for word in (VALID, WITH_WARNINGS, WITH_ERRORS, REJECTED, MISSING)}
