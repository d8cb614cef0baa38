-- Meaning and stories (issue 10).

-- The story an article belongs to: the id of the story's first report, so an article that
-- joined no story has its own id. Set on insert (trigger below) and by story assignment at
-- import; every report of one story carries the same value, found by the index.
ALTER TABLE articles ADD COLUMN story_id INTEGER;
UPDATE articles SET story_id = id;
CREATE INDEX articles_story ON articles (story_id, id);
CREATE TRIGGER articles_story_default AFTER INSERT ON articles
WHEN new.story_id IS NULL BEGIN
    UPDATE articles SET story_id = new.id WHERE id = new.id;
END;

-- Each article's embedding (semantic.model: 256 float16 values, 512 bytes), computed at import
-- or by `newsbot reindex`. Kept beside the article, not in it: scans for nearest neighbours read
-- 512 bytes a row instead of whole articles, and a missing row is what reindex still has to do.
CREATE TABLE article_vectors (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
