"""Keyed pseudonyms and where the key comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from wound.pseudonym import is_pseudonym, pseudonymise
from wound.settings import Settings


def test_pseudonym_is_keyed_stable_and_hides_the_id() -> None:
    a = pseudonymise("MRN-0042", b"key-1")
    assert a == pseudonymise("MRN-0042", b"key-1")
    assert a != pseudonymise("MRN-0042", b"key-2")
    assert a != pseudonymise("MRN-0043", b"key-1")
    assert "0042" not in a and is_pseudonym(a)
    assert pseudonymise(a, b"other") == a  # already a pseudonym: passes through


def test_empty_identifier_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        pseudonymise("  ", b"k")


def test_key_from_settings_else_generated_once_in_home(tmp_path: Path) -> None:
    given = Settings(home=tmp_path, pseudonym_key="s3cret")  # type: ignore[arg-type]
    assert given.pseudonym_key_bytes() == b"s3cret"
    generated = Settings(home=tmp_path / "h")
    key = generated.pseudonym_key_bytes()
    assert len(key) == 64 and key == Settings(home=tmp_path / "h").pseudonym_key_bytes()
    assert (tmp_path / "h" / "pseudonym.key").stat().st_mode & 0o077 == 0


def test_settings_read_environment_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOUND_BACKEND", "aws")
    monkeypatch.setenv("WOUND_BUCKET", "b-1")
    settings = Settings()
    assert settings.backend == "aws" and settings.bucket == "b-1"
