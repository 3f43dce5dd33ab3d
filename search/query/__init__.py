"""The query side: PubMed syntax, the restriction it compiles to, Clinical Queries, the filter mask."""
