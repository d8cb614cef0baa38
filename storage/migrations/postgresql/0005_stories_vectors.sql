-- PostgreSQL's counterpart of ../0005_stories_vectors.sql: story ids and vectors.
ALTER TABLE articles ADD COLUMN story_id BIGINT;
UPDATE articles SET story_id = id;
CREATE INDEX articles_story ON articles (story_id, id);

-- An article that joined no story is its own story: set before the row is written (the id
-- default has been drawn by then), where SQLite's trigger updates the row after.
CREATE FUNCTION articles_story_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.story_id IS NULL THEN
        NEW.story_id := NEW.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER articles_story_default BEFORE INSERT ON articles
FOR EACH ROW EXECUTE FUNCTION articles_story_default();

-- Each article's embedding: 256 float16 values, 512 bytes.
CREATE TABLE article_vectors (
    article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    vector BYTEA NOT NULL
);
