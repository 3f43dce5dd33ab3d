-- 0003: PubMed queries ingested before, so that a refresh or `medsearch update` can bring
-- them up to date, and the records each query selected.
CREATE TABLE pubmed_queries (
    query           VARCHAR PRIMARY KEY,     -- as given, surrounding blanks removed
    max_records     INTEGER,                 -- --max of the last run; NULL: every hit
    sort            VARCHAR NOT NULL,        -- recent | relevance | pub_date
    since           DATE,                    -- --since / --until of the last run (entry dates)
    until           DATE,
    first_run_id    INTEGER NOT NULL,
    last_run_id     INTEGER NOT NULL,
    added_at        TIMESTAMP NOT NULL,
    current_through DATE                     -- day of the last completed run; NULL: none completed
);

-- Which PMIDs each query selected (stored or not yet); a refresh re-checks the stored ones.
CREATE TABLE pubmed_query_records (
    query  VARCHAR NOT NULL,
    doc_id VARCHAR NOT NULL,
    PRIMARY KEY (query, doc_id)
);
