-- The user's library: saved queries (with every run and what it returned) and citation lists.
-- Names are unique by name_key (NFC, case-folded: "Diabetes" and "diabetes" are one name).
-- No foreign keys: DuckDB checks them eagerly inside a transaction, and every delete here
-- removes the children first in the same transaction (search/library/).

CREATE SEQUENCE saved_query_id START 1;

CREATE TABLE saved_queries (
    id INTEGER PRIMARY KEY DEFAULT nextval('saved_query_id'),
    name VARCHAR NOT NULL,
    name_key VARCHAR NOT NULL UNIQUE,
    query VARCHAR NOT NULL,
    filters VARCHAR NOT NULL,          -- JSON of search.types.Filters
    mode VARCHAR,                      -- NULL: the engine's default mode
    k INTEGER NOT NULL,                -- results each run keeps
    created_at TIMESTAMP NOT NULL,
    last_pull_at TIMESTAMP             -- last `saved run --pull` that reached PubMed
);

-- One row per run of a saved query.
CREATE TABLE saved_query_runs (
    query_id INTEGER NOT NULL,
    run_no INTEGER NOT NULL,
    ran_at TIMESTAMP NOT NULL,
    mode VARCHAR NOT NULL,
    candidates INTEGER NOT NULL,       -- records that passed the filters
    n_results INTEGER NOT NULL,
    n_new INTEGER NOT NULL,
    pulled INTEGER,                    -- records stored by --pull before the search; NULL: no pull
    snapshot VARCHAR,                  -- the index snapshot searched (NULL: unknown)
    PRIMARY KEY (query_id, run_no)
);

-- What each run returned, in rank order; is_new: not returned by any earlier run. No key:
-- rows are written once per run (run numbers are unique in saved_query_runs), and an index
-- over every result of every run would make the file several times larger.
CREATE TABLE saved_query_results (
    query_id INTEGER NOT NULL,
    run_no INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    doc_id VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    is_new BOOLEAN NOT NULL
);

CREATE SEQUENCE list_id START 1;

CREATE TABLE lists (
    id INTEGER PRIMARY KEY DEFAULT nextval('list_id'),
    name VARCHAR NOT NULL,
    name_key VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

-- A paper in a list; positions run 1..n without gaps.
CREATE TABLE list_entries (
    list_id INTEGER NOT NULL,
    pmid VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    note VARCHAR,
    added_at TIMESTAMP NOT NULL,
    retraction_noticed_at TIMESTAMP,   -- when `saved run-all` first saw the paper retracted
    PRIMARY KEY (list_id, pmid)
);
