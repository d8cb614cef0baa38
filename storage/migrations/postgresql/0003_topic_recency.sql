-- PostgreSQL's counterpart of ../0003_topic_recency.sql: /latest <topic> walks one index.
ALTER TABLE article_topics ADD COLUMN published_at BIGINT NOT NULL DEFAULT 0;
UPDATE article_topics
SET published_at = (SELECT a.published_at FROM articles a WHERE a.id = article_topics.article_id);
DROP INDEX article_topics_topic;
CREATE INDEX article_topics_recent ON article_topics (topic, published_at DESC, article_id DESC);
