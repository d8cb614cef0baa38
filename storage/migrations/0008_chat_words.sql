-- Words and phrases a chat follows (their articles are delivered as a topic's are) or mutes
-- (their articles are withheld from every delivery to the chat). One row per chat and word:
-- following a muted word turns the mute into a follow. ``word`` is normalised (folded, single
-- spaces, see core/matching.py); ``first`` is its first run of word characters, the key that
-- the fan-out looks an article's words up by (phrases are then checked in full).
CREATE TABLE chat_words (
    id INTEGER PRIMARY KEY,                 -- what a remove button names (callback data is short)
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE ON UPDATE CASCADE,
    word TEXT NOT NULL,
    first TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('follow', 'mute')),
    created_at INTEGER NOT NULL,
    UNIQUE (chat_id, word)
);
CREATE INDEX chat_words_first ON chat_words (first, word);
CREATE INDEX chat_words_word ON chat_words (word, kind, chat_id);
