"""The index: building snapshots of the store, reading them, result cards, freshness."""
