-- Lookups for search and related news.

-- The publisher's related box names articles by headline only. This index finds a stored
-- article whose title equals it ignoring case and whitespace, without a scan. SQLite's lower()
-- folds ASCII only and SQL cannot collapse runs of spaces, so the key drops all whitespace and
-- search.py checks each hit against the exact rule (casefold, whitespace collapsed) in Python.
-- The query must spell this expression exactly as here for the planner to use the index.
CREATE INDEX articles_title_key ON articles (
    lower(replace(replace(replace(replace(replace(
        title, ' ', ''), char(9), ''), char(10), ''), char(13), ''), char(160), ''))
);

-- Document frequencies of the commoner terms, copied from articles_fts_terms by
-- SearchEngine.refresh_term_stats(). fts5vocab counts a term's documents by reading its whole
-- doclist: ~8 ms for a word in 150k of 200k articles, so looking up every word of an article
-- live would take longer than the whole related query may. Rare terms are left out (their live
-- lookup is cheap) and the counts are kept as they were with the number of articles then, so
-- they can be scaled to today's count: a common word stays about as common as the store grows.
CREATE TABLE search_term_stats (
    term TEXT PRIMARY KEY,
    doc INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE search_term_stats_info (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    documents INTEGER NOT NULL,             -- articles in the index when the counts were taken
    min_doc INTEGER NOT NULL,               -- terms in fewer documents than this were left out
    built_at INTEGER NOT NULL
);
