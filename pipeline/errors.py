"""The exceptions: what stops a command. Bad data is never one of them (see `pipeline.findings`).

Each is reported by the command line in one line, with exit code 2 for what the user can fix (a
setting, a folder, a file given on the command line, an output folder that cannot be written, another
run writing the same outputs) and 3 for the rest::

    PipelineError(Exception)
      ReferenceDataError(PipelineError, ValueError)   our own reference files contradict each other
      OutputError(PipelineError, OSError)             an output cannot be written
      ReportRenderError(PipelineError)                the report template and its context disagree
      SettingsError(PipelineError, ValueError)        pipeline.settings: a settings file is wrong
      UnrecognisedFileError(PipelineError, ValueError) pipeline.history: not a known published file
      PdfError(PipelineError)                         pipeline.pdf: LibreOffice could not make the PDF
      ReleaseError(PipelineError)                     pipeline.release: a release cannot be made or read (exit 2)

The last four live beside the code that raises them.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every fatal error the command line reports in one line."""


class ReferenceDataError(PipelineError, ValueError):
    """The reference files in pipeline/reference are inconsistent."""


class OutputError(PipelineError, OSError):
    """An output folder or file cannot be written (its message names it and says why), or another run is writing it."""


class ReportRenderError(PipelineError):
    """The report template uses a variable the context does not supply, or cannot be rendered."""
