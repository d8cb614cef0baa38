-- Cheaper bulk writes of articles (issue 12: import >= 2,000 articles/s on PostgreSQL). The
-- same rows and the same story_heads as before; measured on 3,000 rows into a store of 100,000:
-- 56 µs a row before, 28 after (docs/benchmarks.md, "PostgreSQL import").

-- story_heads took each inserted article by a row trigger (0015): a PL/pgSQL call and an
-- INSERT ... ON CONFLICT per row, half of what writing an article cost the server. New rows
-- now go in once a statement, from its transition table: each story's newest new report
-- (DISTINCT ON, so no head is written twice by one statement) replaces its head when newer.
-- Taking the newest of the new first and the stored head after is what the row trigger did
-- one row at a time. Updates and deletes keep the row trigger: transition tables cannot sit
-- on a trigger with a column list, and an edit is one row.
CREATE FUNCTION story_heads_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO story_heads (story_id, article_id, published_at)
    SELECT DISTINCT ON (story_id) story_id, id, published_at FROM added
    WHERE story_id IS NOT NULL
    ORDER BY story_id, published_at DESC, id DESC
    ON CONFLICT (story_id) DO UPDATE
    SET article_id = excluded.article_id, published_at = excluded.published_at
    WHERE (excluded.published_at, excluded.article_id)
        > (story_heads.published_at, story_heads.article_id);
    RETURN NULL;
END
$$;
DROP TRIGGER story_heads_keep ON articles;
CREATE TRIGGER story_heads_keep AFTER DELETE OR UPDATE OF story_id, published_at
ON articles FOR EACH ROW EXECUTE FUNCTION story_heads_keep();
CREATE TRIGGER story_heads_add AFTER INSERT ON articles
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION story_heads_add();

-- The story default (0005) is called only for a row that needs it: the import writes each
-- article's story with its row.
DROP TRIGGER articles_story_default ON articles;
CREATE TRIGGER articles_story_default BEFORE INSERT ON articles
FOR EACH ROW WHEN (NEW.story_id IS NULL) EXECUTE FUNCTION articles_story_default();

-- (story_id, id) is a prefix's worth of (story_id, published_at, id) (0013): every read by
-- story (a story's reports, their count, its span, its newest) is served by the wider index,
-- and each article written kept both.
DROP INDEX articles_story;
