"""Write the small real excerpts in tests/data from the published files in ../shared/realdata/raw.

    .venv/bin/python tests/data/make_excerpts.py [RAW_DIR]

The tests run without ../shared, so they use these excerpts; this script says exactly which rows were
taken, and nothing else is changed:

* `data_glotip_excerpt.xlsx`: the title rows and header of `data_glotip.xlsx` (sheet `data_glotip_1`)
  as they are (the e-mail cell keeps its HYPERLINK formula), then every data row of the
  (country, year) pairs in GLOTIP_PAIRS and the first NON_BSEC_ROWS data rows (Aruba, Afghanistan),
  in the order of the source. Cells keep their type: txtVALUE stays text ("<5", "1,154"), Year a number.
  The rows are renumbered: row 4 of the excerpt is not row 4 of the source.
* `estat_crim_off_cat_excerpt.tsv`: the header line and the lines whose key is in EUROSTAT_KEYS,
  copied byte for byte (trailing blanks and `:` included), in the order of the source.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

import openpyxl
from openpyxl.workbook import Workbook

from pipeline.output_files import write_workbook

HERE = Path(__file__).resolve().parent
DEFAULT_RAW = HERE.parents[2] / "shared" / "realdata" / "raw"

GLOTIP_SOURCE = "data_glotip.xlsx"
GLOTIP_EXCERPT = "data_glotip_excerpt.xlsx"
GLOTIP_SHA256 = "b0d5fcedaef86dcae33f74ef28f8e0cd25f49f12446d46642f05160159f15119"
GLOTIP_TITLE_ROWS = 3  # UNODC and e-mail, the date, the header
# ROU 2010: "1,154" victims. ROU 2017: "Other forms of exploitation" twice (129 and 43). GRC 2019: the
# same label four times, three of them "<5". MKD 2019 and 2020: North Macedonia is a member from 2020.
GLOTIP_PAIRS = {("ROU", 2010), ("ROU", 2017), ("GRC", 2019), ("MKD", 2019), ("MKD", 2020)}
NON_BSEC_ROWS = 5
STAMP = dt.datetime(2023, 5, 30)  # the date of the GLOTIP extract: fixed, so the excerpt has fixed bytes

EUROSTAT_SOURCE = "estat_crim_off_cat.tsv"
EUROSTAT_EXCERPT = "estat_crim_off_cat_excerpt.tsv"
EUROSTAT_SHA256 = "0cf2d8fc94f28f922fea92807485f0471b2d884678024a2dcb8965b255e468af"
EUROSTAT_KEYS = {
    "A,ICCS0101,NR,EL",  # homicide: not an indicator of ours
    "A,ICCS05021,NR,AT",  # Austria: not a member state
    *(f"A,ICCS05021,{unit},{geo}" for unit in ("NR", "P_HTHAB") for geo in ("EL", "RO", "RS", "TR")),  # GRC 2011 anomaly; TR with ':'
    *(f"A,ICCS0601,{unit},{geo}" for unit in ("NR", "P_HTHAB") for geo in ("EL", "RO", "RS")),  # drug offences: flag d
    "A,ICCS0601,NR,MK",  # North Macedonia: member from 2020
    *(f"A,ICCS0703,{unit},{geo}" for unit in ("NR", "P_HTHAB") for geo in ("RO", "TR")),
    *(f"A,ICCS07031,{unit},RO" for unit in ("NR", "P_HTHAB")),
    *(f"A,ICCS07041,{unit},RS" for unit in ("NR", "P_HTHAB")),
    *(f"A,ICCS0903,{unit},EL" for unit in ("NR", "P_HTHAB")),
    *(f"A,ICCS09051,{unit},RS" for unit in ("NR", "P_HTHAB")),  # a real 0 (2017) among ':'
    "A,ICCS09051,NR,XK",  # Kosovo: not a member state
}


def _checked(path: Path, sha256: str) -> bytes:
    content = path.read_bytes()
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise SystemExit(f"{path}: sha256 {actual}, expected {sha256} (see ../shared/realdata/SOURCES.md)")
    return content


def make_glotip(raw_dir: Path, out_dir: Path) -> Path:
    _checked(raw_dir / GLOTIP_SOURCE, GLOTIP_SHA256)
    source = openpyxl.load_workbook(raw_dir / GLOTIP_SOURCE, read_only=True)
    ws_in = source.worksheets[0]
    wb = Workbook()
    ws = wb.active
    ws.title = ws_in.title
    kept = 0
    for number, row in enumerate(ws_in.iter_rows(values_only=True), start=1):
        is_data = number > GLOTIP_TITLE_ROWS
        if is_data and not (number <= GLOTIP_TITLE_ROWS + NON_BSEC_ROWS or (row[0], row[9]) in GLOTIP_PAIRS):
            continue
        kept += 1
        for column, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=kept, column=column, value=value)  # "=HYPERLINK(...)" stays a formula
    source.close()
    return write_workbook(wb, out_dir / GLOTIP_EXCERPT, STAMP)


def make_eurostat(raw_dir: Path, out_dir: Path) -> Path:
    content = _checked(raw_dir / EUROSTAT_SOURCE, EUROSTAT_SHA256)
    lines = content.split(b"\n")
    kept = [lines[0]] + [line for line in lines[1:] if line.split(b"\t", 1)[0].decode("utf-8") in EUROSTAT_KEYS]
    missing = EUROSTAT_KEYS - {line.split(b"\t", 1)[0].decode("utf-8") for line in kept}
    if missing:
        raise SystemExit(f"{EUROSTAT_SOURCE} has no line for {sorted(missing)}")
    target = out_dir / EUROSTAT_EXCERPT
    target.write_bytes(b"\n".join(kept) + b"\n")
    return target


def main(argv: list[str]) -> None:
    raw_dir = Path(argv[0]) if argv else DEFAULT_RAW
    for path in (make_glotip(raw_dir, HERE), make_eurostat(raw_dir, HERE)):
        print(f"{path.name}  sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(sys.argv[1:])
