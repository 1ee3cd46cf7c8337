"""The training side's environment registry (marlgpt_training.envs)."""
import pytest

from marlgpt_training import envs
from marlgpt_training.cli import main


def test_every_environment_makes_its_generator_by_name() -> None:
    assert envs.names()[0] == envs.POGEMA  # the robots' task comes first
    for name in envs.names():
        generator = envs.make_generator(name, {"seed": 3})
        assert generator.name == name and generator.settings()["seed"] == 3
        assert generator.token_layout()["num_tokens"] > 0
    ids = [envs.make_generator(n, {}).env_id for n in envs.names()]
    assert len(set(ids)) == len(ids)  # one environment token each


def test_unknown_names_and_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown environment 'smac'.*pogema-lmapf"):
        envs.get("smac")
    with pytest.raises(ValueError, match="settings for lbf"):
        envs.make_generator("lbf", {"agents": [4]})


def test_a_config_naming_an_unknown_environment_fails_cleanly(tmp_path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  dirs: [{tmp_path / 'd'}]\n  generate: {{env: smac}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "unknown environment 'smac'" in capsys.readouterr().err


def test_every_entry_describes_its_own_generator() -> None:
    """An environment module's registry names agree with its generator, and the grid policies
    (which import no environment) act in the robots' one."""
    from marlgpt_training.policies.model import ENV_NAME

    for name, env in envs.REGISTRY.items():
        generator = env.make_generator({})
        assert env.name == name == generator.name
        assert generator.token_layout()["encoder"] == env.encoder
        assert env.summary and env.evaluation and env.score_unit and len(env.package) == 3
    assert ENV_NAME == envs.POGEMA and not envs.get(ENV_NAME).vector
    assert [n for n in envs.names() if envs.get(n).vector] == [envs.LBF, envs.GRF, envs.RWARE]
