"""Generated API keys are safe to pass on a command line."""

from __future__ import annotations

from app.core.accounts import new_key


def test_generated_keys_never_start_like_an_option() -> None:
    keys = {new_key() for _ in range(500)}
    assert len(keys) == 500
    assert all(key[0].isalpha() and len(key) >= 40 for key in keys)
