-- Nothing to do on SQLite: PostgreSQL's 0016 moves each article's full-text document out of the
-- articles table into a narrow table of its own, as SQLite's FTS5 index (articles_fts) has
-- been from the start. Kept so both backends run the same numbered steps.
SELECT 1;
