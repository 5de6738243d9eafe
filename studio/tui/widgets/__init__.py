"""Reusable parts of the desk's screens."""
