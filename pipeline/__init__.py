"""crimetrends: the pipeline behind the BSEC Annual Assessment of the Trends of Transnational Crime.

Stages, one module each, data flowing one way: ingest -> validate -> aggregate -> charts -> report.
Only `pipeline.cli` chains them.
"""

__version__ = "0.1.0"
