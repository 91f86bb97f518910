"""kanri.toml with KANRI_* overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanri.console import config


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in [*config.ENVIRONMENT.values(), "KANRI_CONFIG"]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def test_with_no_file_everything_embedded_lives_under_the_data_directory(tmp_path: Path) -> None:
    settings = config.load()
    home = tmp_path / "xdg-data" / "kanri"
    assert settings.home == home
    assert settings.database_url == f"sqlite:///{home / 'registry.db'}"
    assert settings.model_store == str(home / "models")
    assert (settings.cluster, settings.source, settings.embedded_database) == ("local", "", True)


def test_the_xdg_file_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "xdg-config" / "kanri" / "kanri.toml"
    path.parent.mkdir(parents=True)
    path.write_text('home = "/srv/kanri"\ncluster = "kubernetes"\nkubernetes_contexts = ["east", "west"]\n'
                    'prometheus_url = "http://127.0.0.1:9090"\n')
    monkeypatch.setenv("KANRI_PROMETHEUS_URL", "http://127.0.0.1:9999")
    settings = config.load()
    assert (settings.home, settings.cluster, settings.kubernetes_contexts) == (
        Path("/srv/kanri"), "kubernetes", ("east", "west"))
    assert settings.prometheus_url == "http://127.0.0.1:9999" and settings.source == str(path)
    assert settings.database_url == "sqlite:////srv/kanri/registry.db"


def test_an_explicit_file_that_is_missing_or_wrong_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("clusters = 'local'\n")
    monkeypatch.setenv("KANRI_CONFIG", str(bad))
    with pytest.raises(config.ConfigError, match="unknown setting\\(s\\) clusters"):
        config.load()
    bad.write_text("cluster = \n")
    with pytest.raises(config.ConfigError, match="cannot read the configuration file"):
        config.load()
    monkeypatch.setenv("KANRI_CONFIG", "")
    monkeypatch.setenv("KANRI_CLUSTER", "nomad")
    with pytest.raises(config.ConfigError, match="cluster must be one of local, kubernetes"):
        config.load()


def test_shown_settings_mask_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANRI_DATABASE_URL", "mysql+pymysql://kanri:s3cret@db.example:3306/kanri")
    monkeypatch.setenv("KANRI_ELASTICSEARCH_URL", "http://elastic:pw@127.0.0.1:9200")
    shown = config.load().shown()
    assert shown["database_url"] == "mysql+pymysql://kanri:***@db.example:3306/kanri"
    assert shown["elasticsearch_url"] == "http://elastic:***@127.0.0.1:9200"
    assert not config.load().embedded_database
