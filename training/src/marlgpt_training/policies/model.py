"""A trained MARL-GPT checkpoint as an evaluation policy (decentralized: one decision per agent
from its own tokens, all agents of a step batched into one forward pass)."""
from typing import Optional

import numpy as np
import torch

from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_training.model.gpt import masked_logits
from marlgpt_training.policies.base import Policy
from marlgpt_training.train import checkpoint

ENV_NAME = "pogema-lmapf"


class ModelPolicy(Policy):
    name = "model"

    def __init__(self, path: str, sample: bool = False) -> None:
        torch.set_num_threads(1)
        self.model, config = checkpoint.load_model(path)
        layout = config["encoder"]
        if ENV_NAME in layout:  # multi-environment checkpoints keep one layout per environment
            layout = layout[ENV_NAME]
        if layout.get("encoder") != "pogema-ctg" or layout.get("encoder_version") != 1:
            raise ValueError(f"{path}: trained with encoder {layout.get('encoder')} "
                             f"v{layout.get('encoder_version')}, this evaluator has pogema-ctg v1")
        self.layout = layout
        self.radius = int(layout["radius"])
        self.env_id = int(config["environments"][ENV_NAME]["env_id"])
        self.sample = sample
        self.indices = [torch.tensor(layout["indices"][k], dtype=torch.long)
                        for k in ("attr", "team", "agent", "time")]

    def reset(self, obstacles, num_agents, seed=0, fields: Optional[DistanceFields] = None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self.encoder = Encoder(obstacles, self.radius, int(self.layout["history"]),
                               int(self.layout["neighbours"]), fields=self.fields)
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def act(self, state: GridState) -> np.ndarray:
        obs = self.encoder.encode(state)
        values = torch.from_numpy(obs.values)
        env = torch.full((len(values),), self.env_id, dtype=torch.long)
        logits, _ = self.model(values, *self.indices, env, critic=False)
        logits = masked_logits(logits, torch.from_numpy(obs.action_mask))
        if self.sample:
            probs = torch.softmax(logits, dim=-1)
            return torch.multinomial(probs, 1, generator=self.generator).squeeze(1).numpy()
        return logits.argmax(dim=-1).numpy()
