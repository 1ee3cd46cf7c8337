"""The training side's environment registry (marlgpt_training.environments)."""
import pytest

from marlgpt_training import environments
from marlgpt_training.cli import main


def test_every_environment_makes_its_generator_by_name() -> None:
    assert environments.names()[0] == environments.POGEMA  # the robots' task comes first
    for name in environments.names():
        generator = environments.make_generator(name, {"seed": 3})
        assert generator.name == name and generator.settings()["seed"] == 3
        assert generator.token_layout()["num_tokens"] > 0
    ids = [environments.make_generator(n, {}).env_id for n in environments.names()]
    assert len(set(ids)) == len(ids)  # one environment token each


def test_unknown_names_and_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown environment 'smac'.*pogema-lmapf"):
        environments.get("smac")
    with pytest.raises(ValueError, match="settings for lbf"):
        environments.make_generator("lbf", {"agents": [4]})


def test_a_config_naming_an_unknown_environment_fails_cleanly(tmp_path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  dirs: [{tmp_path / 'd'}]\n  generate: {{env: smac}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "unknown environment 'smac'" in capsys.readouterr().err
