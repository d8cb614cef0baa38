"""Getting news in: agency text files, JSON, RSS/Atom feeds, and topic tagging. No Telegram here."""
