-- PostgreSQL's counterpart of ../0015_story_heads.sql: each story's newest report, for
-- /latest, kept by a trigger on every write that can change it.
CREATE TABLE story_heads (
    story_id BIGINT PRIMARY KEY,
    article_id BIGINT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE INDEX story_heads_time ON story_heads (published_at DESC, article_id DESC);
INSERT INTO story_heads (story_id, article_id, published_at)
SELECT DISTINCT ON (story_id) story_id, id, published_at FROM articles
WHERE story_id IS NOT NULL
ORDER BY story_id, published_at DESC, id DESC;

CREATE FUNCTION story_heads_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        -- The story the report left (or moved in): its newest report read again.
        DELETE FROM story_heads WHERE story_id = OLD.story_id;
        INSERT INTO story_heads (story_id, article_id, published_at)
        SELECT story_id, id, published_at FROM articles WHERE story_id = OLD.story_id
        ORDER BY published_at DESC, id DESC LIMIT 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.story_id IS NOT NULL THEN
        INSERT INTO story_heads (story_id, article_id, published_at)
        VALUES (NEW.story_id, NEW.id, NEW.published_at)
        ON CONFLICT (story_id) DO UPDATE
        SET article_id = excluded.article_id, published_at = excluded.published_at
        WHERE (excluded.published_at, excluded.article_id)
            > (story_heads.published_at, story_heads.article_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER story_heads_keep AFTER INSERT OR DELETE OR UPDATE OF story_id, published_at
ON articles FOR EACH ROW EXECUTE FUNCTION story_heads_keep();

-- Story assignment's window scan, answered from the index (an index-only scan where the
-- visibility map allows).
CREATE INDEX articles_published_story ON articles (published_at, story_id);
