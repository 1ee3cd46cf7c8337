"""A trained MARL-GPT checkpoint as an evaluation policy (decentralized: one decision per agent
from its own tokens, all agents of a step batched into one forward pass)."""
from typing import Optional

import numpy as np
import torch

from marlgpt_planner.actions import NUM_ACTIONS
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.rankings import ranking_scores
from marlgpt_training.model import checkpoint
from marlgpt_training.model.gpt import masked_logits
from marlgpt_training.policies.base import TokenPolicy

#: The environment a grid checkpoint acts in: the robots' (``marlgpt_training.envs.pogema``'s
#: NAME, spelled out: the environments' evaluations run these policies, so the policies
#: import no environment; tests/test_environments.py checks that the two agree).
ENV_NAME = "pogema-lmapf"


def environment_layout(config: dict, env: str, path: str) -> dict:
    """The token layout a checkpoint was trained with for ``env`` (refuses other envs)."""
    if env not in config.get("environments", {}):
        raise ValueError(f"{path} was not trained on {env} "
                         f"(it knows {sorted(config.get('environments', {}))})")
    layout = config["encoder"]
    return layout if "indices" in layout else layout[env]


def choose(logits: torch.Tensor, mask: np.ndarray, sample: bool,
           generator: torch.Generator) -> np.ndarray:
    """Greedy or sampled actions from actor logits, unavailable actions excluded."""
    logits = masked_logits(logits, torch.from_numpy(mask))
    if sample:
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1).numpy()
    return logits.argmax(dim=-1).numpy()


class ModelPolicy(TokenPolicy):
    name = "model"

    def __init__(self, path: str, sample: bool = False) -> None:
        torch.set_num_threads(1)
        self.model, config = checkpoint.load_model(path)
        layout = environment_layout(config, ENV_NAME, path)
        try:
            Encoder.from_layout(np.zeros((1, 1), dtype=bool), layout)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        self.layout = layout
        self.label = str(path)
        self.radius = int(layout["radius"])
        self.env_id = int(config["environments"][ENV_NAME]["env_id"])
        self.sample = sample
        self.indices = [torch.tensor(layout["indices"][k], dtype=torch.long)
                        for k in ("attr", "team", "agent", "time")]

    def reset(self, obstacles, num_agents, seed=0, fields: Optional[DistanceFields] = None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self.encoder = Encoder.from_layout(obstacles, self.layout, fields=self.fields)
        self.generator = torch.Generator().manual_seed(seed)

    def layout_version(self) -> int:
        return int(self.layout["encoder_version"])

    @torch.no_grad()
    def _forward(self, values: np.ndarray) -> torch.Tensor:
        env = torch.full((len(values),), self.env_id, dtype=torch.long)
        logits, _ = self.model(torch.from_numpy(values), *self.indices, env, critic=False)
        return logits

    def logits(self, values: np.ndarray) -> np.ndarray:
        logits = self._forward(np.ascontiguousarray(values, dtype=np.float32))
        return logits[:, :NUM_ACTIONS].float().numpy()

    def _logits(self, state: GridState):
        obs = self.encoder.encode(state)
        return self._forward(obs.values), obs.action_mask

    def act(self, state: GridState) -> np.ndarray:
        logits, mask = self._logits(state)
        return choose(logits, mask, self.sample, self.generator)

    def preferences(self, state: GridState) -> np.ndarray:
        logits, mask = self._logits(state)
        return ranking_scores(logits.float().numpy(), mask, self.sample, self.rng)


class VectorModel:
    """A checkpoint acting in an environment whose tokens are a vector per agent (``lbf``,
    ``grf``): ``act(state, tokens, mask) -> actions``, all agents in one forward pass."""

    def __init__(self, path: str, env: str, encoder: str, sample: bool = False,
                 seed: int = 0, version: Optional[int] = None) -> None:
        torch.set_num_threads(1)
        self.model, config = checkpoint.load_model(path)
        layout = environment_layout(config, env, path)
        if layout.get("encoder") != encoder:
            raise ValueError(f"{path}: {env} tokens were {layout.get('encoder')}, expected "
                             f"{encoder}")
        if version is not None and int(layout.get("encoder_version", 1)) != version:
            raise ValueError(f"{path} reads {encoder} v{layout.get('encoder_version', 1)}; "
                             f"{env} now writes v{version}: train it on data from 'marlgpt "
                             f"generate --env {env}'")
        self.env_id = int(config["environments"][env]["env_id"])
        self.indices = [torch.tensor(layout["indices"][k], dtype=torch.long)
                        for k in ("attr", "team", "agent", "time")]
        self.sample = sample
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def __call__(self, state: object, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        values = torch.from_numpy(tokens)
        env_ids = torch.full((len(values),), self.env_id, dtype=torch.long)
        logits, _ = self.model(values, *self.indices, env_ids, critic=False)
        return choose(logits, mask, self.sample, self.generator)
