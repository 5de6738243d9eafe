"""Audio core: loudness metering, dynamics, filters, mixing, file I/O and destination profiles.

Owns everything that touches samples. `io.py` is the only module in the project that reads or
writes audio files. Never imports textual, the TUI, or the speech engines.
"""
