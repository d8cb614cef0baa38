-- PostgreSQL's counterpart of ../0013_story_spans.sql: a story's reports by time, for where a
-- story starts and ends (story assignment) and its newest report (/latest).
CREATE INDEX articles_story_time ON articles (story_id, published_at, id);
