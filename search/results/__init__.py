"""What a search gives back: paging and sorts, facets, highlights, explanations, evidence levels, similar articles."""
