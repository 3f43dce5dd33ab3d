"""Retrieval quality on BEIR folders: the metrics and the evaluation run."""
