"""Vietnamese text front-end: notice text → what an announcer says.

Owns: the public API of the text stage. Everything that goes to a speech engine passes through
`normalize` first. Imports nothing above the text stage (no tts, audio, tui).

    normalize(text, region="bac", lexicon=None) -> str
    sentences(text) -> list[Sentence]          # text + pause kind + pause_s
    script(text, region="bac", lexicon=None) -> list[Sentence]   # sentences in spoken form
    explain(text, region="bac", lexicon=None) -> list[Token]     # text, kind, reading, changed
    load_lexicon(workspace_path) -> Lexicon ; add_entry(...) ; remove_entry(...)
"""

from __future__ import annotations

from studio.text.lexicon import Lexicon, add_entry, default_lexicon, load_lexicon, remove_entry, spell
from studio.text.normalize import Token, explain, normalize
from studio.text.numbers import REGIONS, read_int, read_numeral
from studio.text.sentences import Pause, Sentence, script, sentences

__all__ = [
    "Lexicon", "Pause", "REGIONS", "Sentence", "Token", "add_entry", "default_lexicon", "explain",
    "load_lexicon", "normalize", "read_int", "read_numeral", "remove_entry", "script", "sentences", "spell",
]
