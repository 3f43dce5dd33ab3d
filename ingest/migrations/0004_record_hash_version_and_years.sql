-- 0004: which record hash a row carries; the earliest and latest year a record gives.
--
-- record_hash_version: 1 for rows written before this migration (SHA-256 of a pickle of the
-- row values), 2 for the canonical hash (ingest/rows.py, record_hash). A version-1 row keeps
-- its hash (the search index knows records by it) until the record changes; to tell whether
-- an incoming record is the same, the store recomputes the canonical hash from its rows.
--
-- earliest_year / latest_year: the smallest and largest of the PubDate year (pub_year), the
-- ArticleDate year and the years in MedlineDate ("1998 Dec-1999 Jan"), as ingest/rows.py
-- record_years computes them for new rows: an epub-ahead-of-print record belongs to the
-- year it went online as well as to the year of its issue.
ALTER TABLE articles ADD COLUMN record_hash_version INTEGER DEFAULT 1;
ALTER TABLE articles ADD COLUMN earliest_year INTEGER;
ALTER TABLE articles ADD COLUMN latest_year INTEGER;

UPDATE articles SET
    earliest_year = least(pub_year, year(article_date), list_min(list_transform(
        regexp_extract_all(medline_date, '\b\d{4}\b'), lambda y: y::INTEGER))),
    latest_year = greatest(pub_year, year(article_date), list_max(list_transform(
        regexp_extract_all(medline_date, '\b\d{4}\b'), lambda y: y::INTEGER)));
