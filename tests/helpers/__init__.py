"""Test helpers: paths, Freqtrade runners, the stand-in harness and the Telegram fake."""
