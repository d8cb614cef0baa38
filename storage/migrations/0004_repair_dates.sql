-- Repair times that earlier versions stored without checking them. A time Python cannot read
-- back (a year outside 0001..9999 in UTC or in the publisher's own zone, or an offset of a day
-- or more) made every read of its article raise, which stopped listings and the dispatcher.
-- Imports now replace such a dateline with the import time, and one more than a day after the
-- import with it too (see ingest.pipeline.FUTURE_TOLERANCE); this does the same for stored
-- rows: created_at is when the article was imported. A related headline's bad time is dropped.
-- -62135596800 is 0001-01-01T00:00:00Z; 253402300799 is 9999-12-31T23:59:59Z.
UPDATE articles
SET published_at = created_at, utc_offset = 0
WHERE utc_offset NOT BETWEEN -1439 AND 1439
    OR published_at NOT BETWEEN -62135596800 AND 253402300799
    OR published_at + utc_offset * 60 NOT BETWEEN -62135596800 AND 253402300799
    OR published_at > created_at + 86400;

-- article_topics keeps a copy of published_at for /latest <topic> (0003).
UPDATE article_topics
SET published_at = (SELECT a.published_at FROM articles a WHERE a.id = article_topics.article_id)
WHERE published_at IS NOT
    (SELECT a.published_at FROM articles a WHERE a.id = article_topics.article_id);

UPDATE related_entries
SET published_at = NULL, utc_offset = NULL
WHERE published_at IS NOT NULL
    AND (coalesce(utc_offset, 0) NOT BETWEEN -1439 AND 1439
        OR published_at NOT BETWEEN -62135596800 AND 253402300799
        OR published_at + coalesce(utc_offset, 0) * 60 NOT BETWEEN -62135596800 AND 253402300799);
