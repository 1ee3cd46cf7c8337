"""An exported model file as an evaluation policy, through the robots' own runtime.

``marlgpt eval --policy model.onnx`` scores exactly what the planner runs: the same
:class:`marlgpt_planner.policy.RuntimePolicy`, the same encoder, the same metadata checks.
"""
from typing import Optional

import numpy as np

from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.policy import ModelError, RuntimePolicy, encoder_expectation
from marlgpt_planner.rankings import ranking_scores
from marlgpt_training.policies.base import TokenPolicy


class DeployedPolicy(TokenPolicy):
    name = "deployed"

    def __init__(self, path: str, sample: bool = False, backend: str = "cpu") -> None:
        self.runtime = RuntimePolicy(path, backend=backend, threads=1, sample=sample)
        self.radius = int(self.runtime.metadata["radius"])
        self.sample = sample
        self.label = str(path)

    def reset(self, obstacles, num_agents, seed=0, fields: Optional[DistanceFields] = None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        try:
            self.encoder = Encoder.from_layout(obstacles, self.runtime.metadata,
                                               fields=self.fields)
            self.runtime.check(encoder_expectation(self.encoder))
        except ModelError as exc:
            raise ValueError(str(exc)) from None
        self.runtime.rng = np.random.default_rng(seed)
        self.rng = self.runtime.rng

    def layout_version(self) -> int:
        return int(self.runtime.metadata["encoder_version"])

    def logits(self, values: np.ndarray) -> np.ndarray:
        return self.runtime.logits(values)

    def act(self, state: GridState) -> np.ndarray:
        obs = self.encoder.encode(state)
        return self.runtime.act(obs.values, obs.action_mask)

    def preferences(self, state: GridState) -> np.ndarray:
        obs = self.encoder.encode(state)
        return ranking_scores(self.runtime.logits(obs.values), obs.action_mask,
                              self.runtime.sample, self.runtime.rng)
