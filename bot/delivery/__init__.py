"""Getting articles to chats: fan-out, the dispatcher, digests, channel slots, periodic jobs."""
