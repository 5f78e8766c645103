"""UNO client for tests: the cells LibreOffice Calc itself marks as invalid under their data validation.

Run with a Python that can `import uno` (see `pipeline.pdf.find_uno_python`), against a soffice
started with `--accept=pipe,name=NAME;urp;` and a private profile::

    /usr/bin/python3 -I tests/uno_invalid_cells.py --pipe NAME workbook.xlsx Data

Loads the workbook hidden, lifts the sheet's protection (the detective draws on the sheet), and asks
Calc to mark every invalid value (`com.sun.star.sheet.XSheetAuditing.showInvalid`, the
Tools > Detective > Mark Invalid Data command). Calc draws an ellipse around each such cell; this
prints the address of each, one a line (`E5`), and nothing else. Exit codes: 0 done, 3 no connection,
4 the workbook could not be loaded or audited. Standard library, `uno` and `pipeline/lo_export.py` only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The connection and property helpers of the PDF export script (standard library and uno only, like this one).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
import lo_export  # noqa: E402

ELLIPSE = "com.sun.star.drawing.EllipseShape"
EXIT_NO_CONNECTION = 3
EXIT_FAILED = 4


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def invalid_cells(uno, pipe: str, timeout: float, path: str, sheet_name: str) -> list[str]:
    ctx = lo_export.connect(uno, pipe, timeout)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    try:
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(path), "_blank", 0, lo_export.props(uno, Hidden=True))
        try:
            sheet = doc.Sheets.getByName(sheet_name)
            sheet.unprotect("")
            sheet.showInvalid()
            page = sheet.DrawPage
            found = []
            for i in range(page.Count):
                shape = page.getByIndex(i)
                if shape.ShapeType == ELLIPSE:
                    address = shape.Anchor.getCellAddress()
                    found.append(f"{_column_letters(address.Column)}{address.Row + 1}")
            return found
        finally:
            doc.close(True)
    finally:
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001 the bridge drops while soffice quits; the caller kills it anyway
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipe", required=True)
    parser.add_argument("--connect-timeout", type=float, default=60.0)
    parser.add_argument("workbook")
    parser.add_argument("sheet")
    args = parser.parse_args()

    import uno  # noqa: PLC0415 only this interpreter has it

    from com.sun.star.connection import NoConnectException  # noqa: PLC0415

    try:
        cells = invalid_cells(uno, args.pipe, args.connect_timeout, args.workbook, args.sheet)
    except NoConnectException:
        print(f"LibreOffice did not accept a connection within {args.connect_timeout:g} s", file=sys.stderr)
        return EXIT_NO_CONNECTION
    except Exception as err:  # noqa: BLE001 UNO raises its own exception types; report one line
        print(f"{type(err).__name__}: {getattr(err, 'Message', '') or err}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
