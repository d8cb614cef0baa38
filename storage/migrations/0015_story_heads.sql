-- Each story's newest report, for /latest (issue 12: p95 <= 5 ms with a story of 10,000
-- reports). /latest lists one row per story, shown by its newest report; walking this table's
-- time index visits one row per story, where walking the articles visited every report of a
-- big story before reaching the next story. Kept by the triggers below on every write that can
-- change which report is a story's newest, so no code path can forget it.
CREATE TABLE story_heads (
    story_id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL,
    published_at INTEGER NOT NULL
);
CREATE INDEX story_heads_time ON story_heads (published_at DESC, article_id DESC);
INSERT INTO story_heads (story_id, article_id, published_at)
SELECT a.story_id, a.id, a.published_at FROM articles a
WHERE a.story_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM articles b WHERE b.story_id = a.story_id
    AND (b.published_at, b.id) > (a.published_at, a.id));

-- A new report heads its story if it is the newest. (A row inserted without a story gets one
-- from articles_story_default, whose UPDATE fires story_heads_update.)
CREATE TRIGGER story_heads_insert AFTER INSERT ON articles
WHEN new.story_id IS NOT NULL BEGIN
    INSERT INTO story_heads (story_id, article_id, published_at)
    VALUES (new.story_id, new.id, new.published_at)
    ON CONFLICT (story_id) DO UPDATE
    SET article_id = excluded.article_id, published_at = excluded.published_at
    WHERE (excluded.published_at, excluded.article_id)
        > (story_heads.published_at, story_heads.article_id);
END;

-- A report that moved to another story or in time: the story it left gets its newest report
-- read again (one seek on articles_story_time), and the story it is in now takes it as head
-- if it is the newest.
CREATE TRIGGER story_heads_update AFTER UPDATE OF story_id, published_at ON articles BEGIN
    DELETE FROM story_heads WHERE story_id = old.story_id;
    INSERT INTO story_heads (story_id, article_id, published_at)
    SELECT story_id, id, published_at FROM articles WHERE story_id = old.story_id
    ORDER BY published_at DESC, id DESC LIMIT 1;
    INSERT INTO story_heads (story_id, article_id, published_at)
    SELECT new.story_id, new.id, new.published_at WHERE new.story_id IS NOT NULL
    ON CONFLICT (story_id) DO UPDATE
    SET article_id = excluded.article_id, published_at = excluded.published_at
    WHERE (excluded.published_at, excluded.article_id)
        > (story_heads.published_at, story_heads.article_id);
END;

CREATE TRIGGER story_heads_delete AFTER DELETE ON articles BEGIN
    DELETE FROM story_heads WHERE story_id = old.story_id;
    INSERT INTO story_heads (story_id, article_id, published_at)
    SELECT story_id, id, published_at FROM articles WHERE story_id = old.story_id
    ORDER BY published_at DESC, id DESC LIMIT 1;
END;

-- Story assignment reads the story and vector of every article in a new article's window
-- (~2,000 at 1,000,000 articles over two years). From articles_published it also read each
-- article's row, whose story_id sits after the body, often on an overflow page: 7 ms a window.
-- This index holds what it needs: 2.7 ms (docs/benchmarks.md, issue 10).
CREATE INDEX articles_published_story ON articles (published_at, story_id);
