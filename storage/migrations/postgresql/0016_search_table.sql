-- Each article's full-text document in a narrow table of its own (issue 12: search and related
-- p95 <= 50 ms at 1,000,000 articles). Finding a word's matches reads each match's heap tuple
-- (a GIN index holds row addresses, not ids): in the articles table that is a page of bodies
-- (1.1 GB at 1,000,000, far more than shared_buffers), here a page of ~60-byte tuples (the
-- heap fits in memory), the documents themselves stored out of line (toast_tuple_target at
-- its least), read only for the few ranked. docs/benchmarks.md, "Reading a big PostgreSQL
-- store". SQLite's FTS5 index is a table of its own already: its 0016 changes nothing.
CREATE TABLE article_search (
    article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    -- The article's, kept equal by the trigger below: search orders its matches by it.
    published_at BIGINT NOT NULL,
    -- As articles.search was (0001): storage.fts.tsvector of title (A), summary (B), body (C).
    search TSVECTOR COMPRESSION lz4 NOT NULL
) WITH (toast_tuple_target = 128);

SET LOCAL maintenance_work_mem = '256MB';
INSERT INTO article_search (article_id, published_at, search)
SELECT id, published_at, search FROM articles ORDER BY id;
ALTER TABLE articles DROP COLUMN search;  -- its index with it
CREATE INDEX article_search_words ON article_search USING gin (search);

CREATE FUNCTION article_search_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_search SET published_at = NEW.published_at WHERE article_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER article_search_time AFTER UPDATE OF published_at ON articles
FOR EACH ROW WHEN (OLD.published_at IS DISTINCT FROM NEW.published_at)
EXECUTE FUNCTION article_search_time();

-- The planner's statistics now, not when autovacuum comes to the new table.
ANALYZE article_search;
