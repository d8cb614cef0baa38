"""Pure formatters: records in, text out. No I/O, no Telegram objects."""
