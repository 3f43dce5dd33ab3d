-- 0002: a record's abstract is stored once.
-- articles.abstract holds the sections joined ("LABEL: text" per line); a section of the
-- abstract (abstract_index 0) keeps its label and category and points into it by
-- text_start (0-based, in characters) and text_length, with text NULL. Other abstracts,
-- and rows written before this migration, keep their text. The view gives every
-- section its text.
ALTER TABLE abstract_sections ALTER COLUMN text DROP NOT NULL;
ALTER TABLE abstract_sections ADD COLUMN text_start INTEGER;
ALTER TABLE abstract_sections ADD COLUMN text_length INTEGER;

CREATE VIEW abstract_section_texts AS
SELECT s.doc_id, s.abstract_index, s.position, s.label, s.nlm_category,
       coalesce(s.text, substr(a.abstract, s.text_start + 1, s.text_length)) AS text,
       s.other_type, s.other_language
FROM abstract_sections s LEFT JOIN articles a ON a.doc_id = s.doc_id AND s.text IS NULL;
