-- PostgreSQL's counterpart of ../0009_media.sql: pictures and forum topics.
ALTER TABLE deliveries ADD COLUMN sent_as TEXT;
ALTER TABLE deliveries ADD COLUMN thread_id BIGINT;
ALTER TABLE subscriptions ADD COLUMN thread_id BIGINT;
ALTER TABLE chat_words ADD COLUMN thread_id BIGINT;
CREATE TABLE lost_threads (
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    thread_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (chat_id, thread_id)
);
