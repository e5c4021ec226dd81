"""Vietnamese typing on the kiosk's own keyboard: Telex composition, one key at a time.

A staff member at a kiosk without an input method (the on-screen keyboard, or a plain USB
keyboard) types Vietnamese the way every Vietnamese keyboard user does, in Telex: ``aa`` ->
``â``, ``aw`` -> ``ă``, ``dd`` -> ``đ``, ``ow`` -> ``ơ``, ``s f r x j`` add the five tones
(sắc, huyền, hỏi, ngã, nặng), ``z`` takes the tone off again, and repeating a key undoes it
(``aaa`` -> ``aa``). Text that an operating-system input method already composed passes
through unchanged.

The composing itself is ``bogo`` (the engine behind ibus-bogo), which knows where a tone
mark goes in every Vietnamese syllable and leaves words that cannot be Vietnamese (``FPT``,
``Software``) as typed. It has no working ``z`` rule, so ``z`` is done here: the tone marks
(combining acute, grave, hook above, tilde, dot below) are removed from the word, the vowel
shapes (â ă ê ô ơ ư đ) stay.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bogo.core import get_telex_definition, process_key

_RULES = get_telex_definition()
#: The five tone marks, as combining characters after NFD decomposition.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_UNDO_TONE = frozenset("zZ")


def strip_tone(word: str) -> str:
    """``word`` without its tone mark: ``tiến`` -> ``tiên``, ``Việt`` -> ``Viêt``."""
    bare = "".join(ch for ch in unicodedata.normalize("NFD", word) if ch not in _TONES)
    return unicodedata.normalize("NFC", bare)


@dataclass(frozen=True)
class Composer:
    """Text being typed with Telex: ``text`` is what shows; ``raw`` is the keys of its last
    word as typed (what bogo needs to undo a transformation or to give a non-Vietnamese word
    back as it was typed)."""

    text: str = ""
    raw: str = ""

    def type(self, keys: str) -> Composer:
        """The text after typing ``keys`` (one key, or several, e.g. an input method's
        whole composed word)."""
        composer = self
        for key in keys:
            composer = composer._key(key)
        return composer

    def backspace(self) -> Composer:
        """One character less; the word before the cursor starts over as its letters."""
        text = self.text[:-1]
        return Composer(text, _last_word(text))

    def _key(self, key: str) -> Composer:
        if not (key.isalpha() and key.isascii()):
            return Composer(self.text + key, "")  # a space, digit or sign ends the word
        word = _last_word(self.text)
        head = self.text[: len(self.text) - len(word)]
        if key in _UNDO_TONE and word and strip_tone(word) != word:
            bare = strip_tone(word)
            return Composer(head + bare, bare)
        composed, raw = process_key(word, key, fallback_sequence=self.raw or word, rules=_RULES)
        return Composer(head + unicodedata.normalize("NFC", composed), raw)


def _last_word(text: str) -> str:
    """The letters at the end of ``text`` (after the last space or punctuation)."""
    index = len(text)
    while index > 0 and text[index - 1].isalpha():
        index -= 1
    return text[index:]


def compose(keys: str) -> str:
    """``keys`` typed one by one: ``compose("Nguyeenx Vawn Anh")`` is ``"Nguyễn Văn Anh"``."""
    return Composer().type(keys).text
