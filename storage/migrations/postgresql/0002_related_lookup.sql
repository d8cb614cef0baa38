-- PostgreSQL's counterpart of ../0002_related_lookup.sql. The title key is the same expression
-- (chr() for SQLite's char()); storage/related.py spells it exactly so for the planner.
CREATE INDEX articles_title_key ON articles ((
    lower(replace(replace(replace(replace(replace(
        title, ' ', ''), chr(9), ''), chr(10), ''), chr(13), ''), chr(160), ''))
));

-- Document counts of the commoner terms, copied from ts_stat() by TermStats.refresh().
CREATE TABLE search_term_stats (
    term TEXT PRIMARY KEY,
    doc BIGINT NOT NULL
);

CREATE TABLE search_term_stats_info (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    documents BIGINT NOT NULL,
    min_doc BIGINT NOT NULL,
    built_at BIGINT NOT NULL
);
