-- Pictures and forum topics (issue 11).
-- How a delivery's message was sent: 'photo' (sendPhoto, its text is a caption) or 'text'.
-- A later report of the story edits that message, and a caption is edited by another method
-- (editMessageCaption) than a text (editMessageText). NULL: sent before this column, as text.
ALTER TABLE deliveries ADD COLUMN sent_as TEXT;
-- The forum topic thread a delivery goes to (message_thread_id); NULL is the chat itself (a
-- forum's General topic). Taken from the subscription or followed word that owed it.
ALTER TABLE deliveries ADD COLUMN thread_id INTEGER;
-- The thread each topic and followed word of a forum group is delivered into (NULL: General).
ALTER TABLE subscriptions ADD COLUMN thread_id INTEGER;
ALTER TABLE chat_words ADD COLUMN thread_id INTEGER;
-- Threads Telegram refused (deleted or closed): what was meant for them went to General, and
-- the group was told once; a row here is that "once", kept across restarts.
CREATE TABLE lost_threads (
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    thread_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, thread_id)
);
