-- PostgreSQL's counterpart of ../0010_chat_language.sql: the language the bot speaks in a chat.
ALTER TABLE chats ADD COLUMN language TEXT;
ALTER TABLE chats ADD COLUMN reader_language TEXT;
