-- A story's reports by time (issue 10 at scale): where a story starts and ends (story
-- assignment: a story spans at most one window) and whether a report is its story's newest
-- (/latest: one row per story) are each one short range of this index, however many
-- articles the store holds.
CREATE INDEX articles_story_time ON articles (story_id, published_at, id);
