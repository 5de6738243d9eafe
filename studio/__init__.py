"""studio: the district broadcast desk (ingest → compose → text → tts → audio → package → dispatch)."""

__version__ = "0.1.0"
