-- PostgreSQL's counterpart of ../0004_repair_dates.sql (no PostgreSQL store was ever written
-- without the checks, so this finds nothing; kept so both backends run the same steps).
UPDATE articles
SET published_at = created_at, utc_offset = 0
WHERE utc_offset NOT BETWEEN -1439 AND 1439
    OR published_at NOT BETWEEN -62135596800 AND 253402300799
    OR published_at + utc_offset * 60 NOT BETWEEN -62135596800 AND 253402300799
    OR published_at > created_at + 86400;

UPDATE article_topics
SET published_at = (SELECT a.published_at FROM articles a WHERE a.id = article_topics.article_id)
WHERE published_at IS DISTINCT FROM
    (SELECT a.published_at FROM articles a WHERE a.id = article_topics.article_id);

UPDATE related_entries
SET published_at = NULL, utc_offset = NULL
WHERE published_at IS NOT NULL
    AND (coalesce(utc_offset, 0) NOT BETWEEN -1439 AND 1439
        OR published_at NOT BETWEEN -62135596800 AND 253402300799
        OR published_at + coalesce(utc_offset, 0) * 60 NOT BETWEEN -62135596800 AND 253402300799);
