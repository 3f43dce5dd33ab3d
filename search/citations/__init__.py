"""Citation files: exports (RIS, BibTeX, MEDLINE, CSL-JSON, CSV, references) and imports."""
