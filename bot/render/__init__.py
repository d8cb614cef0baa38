"""Pure formatters: records in, text (and inline keyboards) out. No I/O, no API calls."""
