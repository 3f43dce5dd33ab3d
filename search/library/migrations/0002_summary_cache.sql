-- The summary cache: what a model wrote, keyed so that the same request costs nothing the
-- second time (search/summarize/cache.py). The key is a SHA-256 of the kind, the model's
-- identity (never a credential), the prompt version, the question and every PMID with its
-- record version, so a changed abstract or retraction misses. The question itself is not
-- stored: it may carry patient details. The output is kept as written, before the grounding
-- checks, which run again on every read.

CREATE TABLE summary_cache (
    key VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,             -- 'finding' (one paper, also its TL;DR) or 'overview'
    model VARCHAR NOT NULL,            -- the model's name, shown on the summary
    output VARCHAR NOT NULL,           -- the model's text, unchecked
    created_at TIMESTAMP NOT NULL      -- when the model wrote it
);
