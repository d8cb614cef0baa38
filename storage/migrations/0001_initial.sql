-- The whole first schema. Times are unix seconds (UTC); utc_offset is minutes east of UTC as the
-- publisher gave it, so the dateline can be shown the way the publisher showed it.

CREATE TABLE articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- AUTOINCREMENT: an id is never reused, links stay stable
    guid TEXT UNIQUE,
    url TEXT UNIQUE,
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL,
    utc_offset INTEGER NOT NULL DEFAULT 0,
    publisher TEXT,
    attribution TEXT,
    category TEXT,
    language TEXT,
    image_url TEXT,
    content_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER,
    CHECK (guid IS NOT NULL OR url IS NOT NULL)
);
CREATE INDEX articles_published ON articles (published_at DESC, id DESC);

CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, summary, body,
    content = 'articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE articles_fts_terms USING fts5vocab (articles_fts, 'row');

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;

-- The publisher's own "Related news" box, in the publisher's order.
CREATE TABLE related_entries (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    category TEXT,
    published_at INTEGER,
    utc_offset INTEGER,
    PRIMARY KEY (article_id, position)
) WITHOUT ROWID;
CREATE INDEX related_entries_title ON related_entries (title);

CREATE TABLE topics (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE article_topics (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    topic TEXT NOT NULL REFERENCES topics (slug) ON DELETE CASCADE,
    PRIMARY KEY (article_id, topic)
) WITHOUT ROWID;
CREATE INDEX article_topics_topic ON article_topics (topic, article_id);

CREATE TABLE chats (
    id INTEGER PRIMARY KEY,                 -- Telegram's chat id
    type TEXT NOT NULL,                     -- private, group, supergroup, channel
    title TEXT,
    username TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    inactive_reason TEXT,
    -- instant: as published; digest: one message a day; scheduled: a channel's own slots
    mode TEXT NOT NULL DEFAULT 'instant' CHECK (mode IN ('instant', 'digest', 'scheduled')),
    digest_time TEXT,                       -- HH:MM in the chat's zone
    last_digest_at INTEGER,
    timezone TEXT,                          -- IANA name; NULL shows datelines as the publisher did
    quiet_start TEXT,                       -- HH:MM
    quiet_end TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE subscriptions (
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    topic TEXT NOT NULL REFERENCES topics (slug) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, topic)
) WITHOUT ROWID;
CREATE INDEX subscriptions_topic ON subscriptions (topic, chat_id);

-- What each chat is owed and has received: one row per chat and article, whatever topics matched.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'owed'
        CHECK (status IN ('owed', 'queued', 'sending', 'sent', 'failed', 'cancelled')),
    message_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (chat_id, article_id)
);
-- UNIQUE (chat_id, article_id) already serves lookups by chat.
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_updated ON deliveries (updated_at);

CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    topics TEXT NOT NULL DEFAULT '[]',      -- JSON list of topic slugs forced on every item
    every_seconds INTEGER NOT NULL,
    etag TEXT,
    last_modified TEXT,
    next_check_at INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_ok_at INTEGER,
    from_config INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
