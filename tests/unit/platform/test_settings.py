"""Settings: the retention knobs' rules, and the README's table of every setting."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from orderly.platform.retention import RetentionConfig
from orderly.platform.settings import Settings, SettingsError, load_settings

DAY = 86_400
README = Path(__file__).resolve().parents[3] / "README.md"


class TestRetentionSettings:
    def test_defaults_keep_published_events_a_week_and_inbox_rows_two(self) -> None:
        config = RetentionConfig.from_settings(Settings())

        assert config.outbox_retention == timedelta(days=7)
        assert config.inbox_retention == timedelta(days=14)
        assert config.batch_size == 1000

    def test_an_inbox_kept_shorter_than_the_outbox_is_refused(self) -> None:
        with pytest.raises(
            SettingsError, match=r"ORDERLY_INBOX_RETENTION_S: .*at least ORDERLY_OUTBOX_RETENTION_S"
        ):
            load_settings(outbox_retention_s=10 * DAY, inbox_retention_s=9 * DAY)

    def test_an_inbox_kept_as_long_as_the_outbox_is_accepted(self) -> None:
        settings = load_settings(outbox_retention_s=10 * DAY, inbox_retention_s=10 * DAY)

        assert settings.inbox_retention_s == settings.outbox_retention_s

    def test_an_inbox_kept_less_than_a_day_is_refused(self) -> None:
        with pytest.raises(SettingsError, match="ORDERLY_INBOX_RETENTION_S"):
            load_settings(outbox_retention_s=60, inbox_retention_s=DAY - 1)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("outbox_retention_s", 0),
            ("outbox_retention_s", -DAY),
            ("retention_interval_s", 0),
            ("retention_batch_size", 0),
            ("retention_max_batches", 0),
        ],
    )
    def test_durations_and_sizes_must_be_positive(self, name: str, value: int) -> None:
        with pytest.raises(SettingsError, match=f"ORDERLY_{name.upper()}"):
            load_settings(**{name: value})


def test_the_readme_lists_every_setting() -> None:
    listed = set(re.findall(r"^\| `ORDERLY_([A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE))

    assert {name.upper() for name in Settings.model_fields} - listed == set()
