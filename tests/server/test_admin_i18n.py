"""The Vietnamese catalogue is complete, consistent and compiled.

English is the source language of the code; Vietnamese is the default language of the
console. ``pybabel compile`` output (``messages.mo``) is committed so a fresh clone works
without a build step; these tests fail when someone forgets to translate or to compile.
"""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "signage_server" / "translations" / "vi" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


@pytest.fixture(scope="module")
def catalogue() -> Catalog:
    with (CATALOGUE / "messages.po").open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    return {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords) if isinstance(message, str)}


def test_every_string_in_the_code_has_a_vietnamese_translation(extracted: set[str],
                                                              catalogue: Catalog) -> None:
    missing = sorted(m for m in extracted if not (catalogue.get(m) and catalogue[m].string))
    assert not missing, "translate with pybabel update + edit messages.po:\n" + "\n".join(
        missing)


def test_no_translation_is_fuzzy(catalogue: Catalog) -> None:
    assert not [m.id for m in catalogue if m.id and m.fuzzy]


def test_translations_keep_their_placeholders(catalogue: Catalog) -> None:
    for message in catalogue:
        if message.id:
            assert sorted(PLACEHOLDER.findall(str(message.id))) == sorted(
                PLACEHOLDER.findall(str(message.string))), message.id


def test_the_compiled_catalogue_is_up_to_date(catalogue: Catalog) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    fresh = gettext.GNUTranslations(compiled)
    with (CATALOGUE / "messages.mo").open("rb") as fh:
        committed = gettext.GNUTranslations(fh)
    assert committed._catalog == fresh._catalog, (  # type: ignore[attr-defined]
        "run: pybabel compile -d signage_server/translations")
