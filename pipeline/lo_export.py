"""UNO client: open a .docx in a running LibreOffice, update its indexes and fields, store it as PDF.

Run with a Python that can `import uno` (Debian/Ubuntu: the system python3 with python3-uno; the
LibreOffice bundle: its own program/python), never with the project's virtual environment::

    /usr/bin/python3 -I pipeline/lo_export.py --pipe NAME [--connect-timeout 60] in.docx out.pdf

`pipeline.pdf` starts `soffice --headless --accept=pipe,name=NAME;urp;` with a private profile,
runs this script, and stops soffice afterwards (killing its process group if need be); this script
only connects, converts, and asks soffice to terminate. `--convert-to pdf` cannot do the same: it
leaves the table of contents as the template saved it (placeholder text, no page numbers).

Deliberately standalone: it imports neither the `pipeline` package nor pandas, only the standard
library and `uno`. Exit codes: 0 converted (stdout: one line `toc=<n> indexes=<n> fields=refreshed`),
2 bad arguments, 3 no connection before the deadline, 4 the document could not be loaded or stored.
Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

WORD_FILTER = "MS Word 2007 XML"  # load as .docx only: LibreOffice would import any other bytes as plain text
PDF_FILTER = "writer_pdf_Export"
EXIT_NO_CONNECTION = 3
EXIT_CONVERSION_FAILED = 4


def props(uno, **values):
    """A tuple of com.sun.star.beans.PropertyValue from keyword arguments."""
    props = []
    for name, value in values.items():
        prop = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
        prop.Name, prop.Value = name, value
        props.append(prop)
    return tuple(props)


def connect(uno, pipe: str, timeout: float):
    """The component context of the soffice listening on `pipe`, polled until `timeout` seconds pass."""
    from com.sun.star.connection import NoConnectException  # noqa: PLC0415 (exists only once uno is imported)

    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except NoConnectException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _update(doc) -> tuple[int, int]:
    """Fields, then every index (TOC, lists of tables/figures) twice: the first pass may add pages.

    Returns (tables of contents, all indexes).
    """
    indexes = doc.getDocumentIndexes()
    found = [indexes.getByIndex(i) for i in range(indexes.getCount())]
    for _ in range(2):
        doc.getTextFields().refresh()
        for index in found:
            index.update()
    n_toc = sum(1 for index in found if index.supportsService("com.sun.star.text.ContentIndex"))
    return n_toc, len(found)


def convert(uno, pipe: str, connect_timeout: float, source: Path, target: Path) -> tuple[int, int]:
    """Load `source` hidden, update it, store it as PDF at `target`; returns (tables of contents, indexes)."""
    ctx = connect(uno, pipe, connect_timeout)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    try:
        doc = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(str(source.resolve())), "_blank", 0,
            props(uno, Hidden=True, ReadOnly=False, FilterName=WORD_FILTER, UpdateDocMode=0))
        if doc is None or not hasattr(doc, "getDocumentIndexes"):
            raise RuntimeError("the file did not open as a Word document")
        try:
            counts = _update(doc)
            doc.storeToURL(uno.systemPathToFileUrl(str(target.resolve())),
                           props(uno, FilterName=PDF_FILTER, Overwrite=True))
        finally:
            doc.close(True)
        return counts
    finally:
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001 the bridge drops while soffice quits; the caller kills it anyway
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipe", required=True, help="name of the pipe soffice accepts connections on")
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="seconds to wait for soffice")
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)

    import uno  # noqa: PLC0415 only this interpreter has it; importing the module elsewhere must not fail

    from com.sun.star.connection import NoConnectException  # noqa: PLC0415

    try:
        n_toc, n_indexes = convert(uno, args.pipe, args.connect_timeout, args.source, args.target)
    except NoConnectException:
        print(f"LibreOffice did not accept a connection within {args.connect_timeout:g} s", file=sys.stderr)
        return EXIT_NO_CONNECTION
    except Exception as err:  # noqa: BLE001 UNO raises its own exception types; report one line
        message = getattr(err, "Message", "") or str(err) or type(err).__name__
        print(f"{type(err).__name__}: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_CONVERSION_FAILED
    print(f"toc={n_toc} indexes={n_indexes} fields=refreshed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
