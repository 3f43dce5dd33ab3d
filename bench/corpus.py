"""Large PubMed XML inputs built from the real records, for the benchmarks.

The builders live with the tests (``tests/builders.py``), which use them too; this
module names them for ``bench/bench_ingest.py``.
"""

from __future__ import annotations

from tests.builders import real_records, replicate, write_pubmed_xml

__all__ = ["real_records", "replicate", "write_pubmed_xml"]
