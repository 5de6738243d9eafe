"""The Textual front end (Vietnamese). Only this package imports textual."""
