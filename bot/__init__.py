"""newsbot: a Telegram news-feed bot."""

__version__ = "0.1.0"
