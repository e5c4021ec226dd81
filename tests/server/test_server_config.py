"""Configuration: every setting documented, and the layers applied in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from signage_server import config

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: config.Setting) -> None:
    assert setting.help.strip()
    assert f"`{setting.name}`" in DOC.read_text(encoding="utf-8")


def test_layers_apply_in_order(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('APP_NAME = "from file"\nMAX_BATCH_RECORDS = 10\n')
    values = config.load(tmp_path, environ={"SIGNAGE_MAX_BATCH_RECORDS": "20"},
                         overrides={"PUBLIC_URL": "http://test"})
    assert values["APP_NAME"] == "from file"
    assert values["MAX_BATCH_RECORDS"] == 20
    assert values["PUBLIC_URL"] == "http://test"


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('PUBLC_URL = "typo"\n')
    with pytest.raises(ValueError, match="PUBLC_URL"):
        config.load(tmp_path, environ={})


def test_retention_is_clamped_to_thirty_days(tmp_path: Path) -> None:
    values = config.load(tmp_path, environ={"SIGNAGE_DEFAULT_RETENTION_DAYS": "90"})
    assert values["DEFAULT_RETENTION_DAYS"] == 30


def test_malformed_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SIGNAGE_MAX_BATCH_RECORDS"):
        config.load(tmp_path, environ={"SIGNAGE_MAX_BATCH_RECORDS": "many"})
