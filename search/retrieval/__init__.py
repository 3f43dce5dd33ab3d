"""First-stage retrieval and ranking: tokeniser, BM25, dense vectors, encoders, fusion, learned fusion, rerank."""
