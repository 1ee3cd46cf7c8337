"""The imitation side of a model: how often it picks the expert's action on expert states.

Rows come from a ``marlgpt generate`` dataset (for a fair figure, one made with another seed
than the training data: held-out maps and episodes); the closed-loop side is ``marlgpt eval``.
"""
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from marlgpt_planner.policy import RuntimePolicy
from marlgpt_training.data.records import Dataset


def expert_agreement(model: "str | Path", dataset: "str | Path", rows: int = 4096,
                     seed: int = 0, shard: Optional[int] = None) -> Dict[str, float]:
    """Top-1 agreement with the expert, wait rates, the mean probability of the expert's
    action and its negative log-likelihood, on ``rows`` rows drawn from every shard of
    ``dataset`` (or from one ``shard``)."""
    data = Dataset(str(dataset))
    shards = data.shards if shard is None else [data.shards[shard]]
    loaded = [data.load_shard(s) for s in shards]
    tokens = np.concatenate([s["tokens"] for s in loaded])
    masks = np.concatenate([s["action_mask"] for s in loaded])
    expert = np.concatenate([s["action"] for s in loaded])
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(expert), min(rows, len(expert)), replace=False)
    policy = RuntimePolicy(model, threads=1)
    logits = np.concatenate([policy.logits(tokens[picked[i:i + 256]].astype(np.float32))
                             for i in range(0, len(picked), 256)])
    logits = np.where(masks[picked][:, :policy.num_actions], logits, -np.inf)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    wanted, chosen = expert[picked], logits.argmax(axis=1)
    p_expert = probs[np.arange(len(picked)), wanted]
    return {"rows": int(len(picked)), "agreement": round(float(np.mean(chosen == wanted)), 4),
            "expert_waits": round(float(np.mean(wanted == 0)), 4),
            "model_waits": round(float(np.mean(chosen == 0)), 4),
            "p_expert_action": round(float(p_expert.mean()), 4),
            "nll": round(float(np.mean(-np.log(p_expert + 1e-12))), 4)}
