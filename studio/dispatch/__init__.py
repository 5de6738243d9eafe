"""Dispatch: hand verified packages to the dispatch system (folder spool or HTTP POST)."""
