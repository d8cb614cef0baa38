-- The language the bot speaks in a chat. ``language`` is the one chosen in /settings (a group's
-- by its admins); NULL follows the reader. ``reader_language`` is the Telegram language_code of
-- a private chat's user as last seen (its first subtag: "ru" of "ru-RU"), so that articles
-- delivered with nobody asking still come in the reader's language.
ALTER TABLE chats ADD COLUMN language TEXT;
ALTER TABLE chats ADD COLUMN reader_language TEXT;
