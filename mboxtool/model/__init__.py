"""The message model: raw messages, flags and keywords, delivery dates, message identity."""
