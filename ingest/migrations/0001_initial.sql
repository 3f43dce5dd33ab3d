-- 0001: the store of record for bibliographic records and ingest bookkeeping.
-- Child tables carry (doc_id, position) so a record's parts keep their order.

CREATE TABLE articles (
    doc_id            VARCHAR PRIMARY KEY,   -- PMID for PubMed records, corpus _id for BEIR
    source            VARCHAR NOT NULL,      -- 'pubmed' | 'beir'
    pmid              VARCHAR,
    pmid_version      INTEGER NOT NULL DEFAULT 1,
    status            VARCHAR,
    record_type       VARCHAR NOT NULL,      -- 'article' | 'book'
    title             VARCHAR NOT NULL,
    title_translated  BOOLEAN NOT NULL,
    vernacular_title  VARCHAR,
    abstract          VARCHAR,               -- sections joined, "LABEL: text" per line
    has_abstract      BOOLEAN NOT NULL,
    copyright         VARCHAR,
    journal_title     VARCHAR,
    journal_iso       VARCHAR,
    issn              VARCHAR,
    issn_linking      VARCHAR,
    volume            VARCHAR,
    issue             VARCHAR,
    pages             VARCHAR,
    pub_year          INTEGER,
    pub_month         INTEGER,
    pub_day           INTEGER,
    pub_date_text     VARCHAR,
    medline_date      VARCHAR,
    article_date      DATE,
    date_revised      DATE,
    doi               VARCHAR,
    pmcid             VARCHAR,
    pii               VARCHAR,
    languages         VARCHAR[],
    publication_types VARCHAR[],             -- names, denormalised for filters
    mesh_terms        VARCHAR[],             -- descriptor names, denormalised for filters
    keywords          VARCHAR[],
    book_title        VARCHAR,
    publisher         VARCHAR,
    extra             VARCHAR,               -- JSON object of source-specific leftovers
    is_retracted      BOOLEAN NOT NULL,
    record_hash       VARCHAR NOT NULL,      -- hash of every parsed field: unchanged records are not rewritten
    ingest_run_id     INTEGER,
    ingested_at       TIMESTAMP NOT NULL
);

CREATE TABLE abstract_sections (
    doc_id          VARCHAR NOT NULL,
    abstract_index  INTEGER NOT NULL,        -- 0: the abstract; 1..n: OtherAbstract n
    position        INTEGER NOT NULL,
    label           VARCHAR,
    nlm_category    VARCHAR,
    text            VARCHAR NOT NULL,
    other_type      VARCHAR,
    other_language  VARCHAR
);

CREATE TABLE authors (
    doc_id          VARCHAR NOT NULL,
    position        INTEGER NOT NULL,
    last_name       VARCHAR,
    fore_name       VARCHAR,
    initials        VARCHAR,
    suffix          VARCHAR,
    collective_name VARCHAR,
    orcid           VARCHAR,
    affiliations    VARCHAR[],
    equal_contrib   BOOLEAN NOT NULL
);

CREATE TABLE mesh_headings (
    doc_id        VARCHAR NOT NULL,
    position      INTEGER NOT NULL,
    descriptor    VARCHAR NOT NULL,
    descriptor_ui VARCHAR,
    major_topic   BOOLEAN NOT NULL,
    qualifiers    STRUCT(name VARCHAR, ui VARCHAR, major_topic BOOLEAN)[]
);

CREATE TABLE publication_types (
    doc_id   VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    name     VARCHAR NOT NULL,
    ui       VARCHAR
);

CREATE TABLE article_ids (
    doc_id  VARCHAR NOT NULL,
    id_type VARCHAR NOT NULL,
    value   VARCHAR NOT NULL
);

CREATE TABLE keywords (
    doc_id      VARCHAR NOT NULL,
    position    INTEGER NOT NULL,
    keyword     VARCHAR NOT NULL,
    major_topic BOOLEAN NOT NULL,
    owner       VARCHAR
);

CREATE TABLE chemicals (
    doc_id          VARCHAR NOT NULL,
    position        INTEGER NOT NULL,
    name            VARCHAR NOT NULL,
    ui              VARCHAR,
    registry_number VARCHAR
);

CREATE TABLE comments_corrections (
    doc_id     VARCHAR NOT NULL,
    position   INTEGER NOT NULL,
    ref_type   VARCHAR NOT NULL,
    ref_source VARCHAR,
    ref_pmid   VARCHAR
);

-- Records removed by a DeleteCitation; kept so stats can count them and a re-fetch skips them.
CREATE TABLE deleted_articles (
    doc_id        VARCHAR PRIMARY KEY,
    deleted_at    TIMESTAMP NOT NULL,
    ingest_run_id INTEGER
);

CREATE SEQUENCE ingest_run_ids START 1;

CREATE TABLE ingest_runs (
    id              INTEGER PRIMARY KEY DEFAULT nextval('ingest_run_ids'),
    kind            VARCHAR NOT NULL,        -- 'pubmed' | 'files' | 'demo'
    target          VARCHAR NOT NULL,        -- the query, or the paths
    params          VARCHAR,                 -- JSON
    status          VARCHAR NOT NULL,        -- running | completed | failed | interrupted
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    n_seen          INTEGER NOT NULL DEFAULT 0,
    n_stored        INTEGER NOT NULL DEFAULT 0,
    n_unchanged     INTEGER NOT NULL DEFAULT 0,
    n_older_skipped INTEGER NOT NULL DEFAULT 0,
    n_deleted       INTEGER NOT NULL DEFAULT 0,
    n_problems      INTEGER NOT NULL DEFAULT 0,
    message         VARCHAR
);

CREATE TABLE ingest_problems (
    run_id   INTEGER NOT NULL,
    location VARCHAR NOT NULL,
    message  VARCHAR NOT NULL,
    noted_at TIMESTAMP NOT NULL
);

-- Files read to the end by a completed batch sequence; a re-run skips them unless forced.
CREATE TABLE ingested_files (
    path        VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    run_id      INTEGER NOT NULL,
    n_items     INTEGER NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
