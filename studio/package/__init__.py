"""Packages: self-describing folders the dispatch system reads (docs/package-spec.md)."""
