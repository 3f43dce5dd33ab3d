#!/usr/bin/env bash
# Says whether the compiled PubMed record reader (ingest/_fastxml.pyx) was built by the
# install. Without it ingest still works, with the pure-Python reader, at about half the
# speed; the tests pass either way, so this is the one place that tells. Exit status 1 when
# it was not built. Run from anywhere: .ci/check_build.sh  (PYTHON= to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
"${PYTHON:-.venv/bin/python}" - <<'PY'
import sys

from ingest import pubmed_xml

if pubmed_xml.COMPILED:
    print("ingest._fastxml: compiled; PubMed XML is read by the compiled record reader")
else:
    print("ingest._fastxml: NOT compiled; PubMed XML is read by the pure-Python reader, about half "
          "as fast. Install a C compiler (gcc) and reinstall (make install) to build it.")
    sys.exit(1)
PY
