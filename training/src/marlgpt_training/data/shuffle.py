"""Agent shuffling (``data.shuffle_agents``): interchangeable agents' slots permuted per row.

An observation lists some entities in numbered slots: LBF's other players and its foods,
Football's team-mates and rivals, POGEMA's neighbours. Which entity sits in which slot is an
order the environment chose (its agent index, the distance), not a fact a policy should lean
on, and on an unseen task the slots fill differently (more agents, fewer foods, padding in
other places). The multi-task recipe of Formanek et al. ("Multi-task sequence models
generalise in offline MARL") shuffles agents for that reason. Here each environment names the
token teams whose slots are interchangeable (its ``EXCHANGEABLE``); a *unit* is every token of
one (team, agent index) pair, and every row of a batch gets its own random order of the units
of each such team. Padding (absent agents) moves with its slot, so the model meets it anywhere.

With ``loss.mode: icq`` a row's preceding actions are per neighbour slot (team 1, agent k),
so the same permutation is applied to them (:func:`permute_slots`).
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch

#: (team, (U, S) token positions: unit u's S tokens in layout order, units by agent index)
Group = Tuple[int, np.ndarray]


def slot_groups(layout: dict, teams: Sequence[int]) -> List[Group]:
    """The interchangeable units of ``layout`` for each of ``teams``; a ValueError if a team's
    units differ in their token kinds (then slots are not interchangeable) or a team has none."""
    idx = layout["indices"]
    team = np.asarray(idx["team"])
    agent = np.asarray(idx["agent"])
    attr = np.asarray(idx["attr"])
    time = np.asarray(idx["time"])
    groups: List[Group] = []
    for t in teams:
        agents = sorted(set(agent[team == t].tolist()))
        if len(agents) < 2:
            raise ValueError(f"token layout {layout.get('encoder')!r}: team {t} has "
                             f"{len(agents)} slot(s), nothing to shuffle")
        units = [np.flatnonzero((team == t) & (agent == a)) for a in agents]
        kinds = [(attr[u].tolist(), time[u].tolist()) for u in units]
        if any(k != kinds[0] for k in kinds[1:]):
            raise ValueError(f"token layout {layout.get('encoder')!r}: the slots of team {t} "
                             f"hold different token kinds, so they are not interchangeable")
        groups.append((t, np.stack(units)))
    return groups


def draw_orders(groups: Sequence[Group], rows: int,
                rng: np.random.Generator) -> List[np.ndarray]:
    """One (rows, U) permutation per group, uniform and independent per row."""
    return [np.argsort(rng.random((rows, len(units))), axis=1) for _, units in groups]


def shuffle_tokens(tokens: torch.Tensor, groups: Sequence[Group],
                   orders: Sequence[np.ndarray]) -> torch.Tensor:
    """``tokens`` (B, T) with each group's units reordered per row: the unit in slot i of row
    b is the one that was in slot ``orders[g][b, i]``. A new tensor; other tokens unchanged."""
    out = tokens.clone()
    rows = torch.arange(tokens.shape[0])[:, None, None]
    for (_, units), order in zip(groups, orders, strict=True):
        units_t = torch.from_numpy(units)                       # (U, S)
        source = units_t[torch.from_numpy(order)]               # (B, U, S)
        out[rows, units_t[None]] = tokens[rows, source]
    return out


def permute_slots(values: torch.Tensor, groups: Sequence[Group], orders: Sequence[np.ndarray],
                  team: int) -> torch.Tensor:
    """Per-slot ``values`` (B, K; slot k = agent index k + 1 of ``team``) reordered as
    :func:`shuffle_tokens` reorders that team's units; unchanged if ``team`` is not shuffled."""
    for (t, units), order in zip(groups, orders, strict=True):
        if t == team:
            if values.shape[1] != len(units):
                raise ValueError(f"{values.shape[1]} slot values for {len(units)} slots")
            return torch.gather(values, 1, torch.from_numpy(order).to(values.device))
    return values
