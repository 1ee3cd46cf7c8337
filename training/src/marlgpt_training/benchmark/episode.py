"""One lifelong MAPF episode on POGEMA with the benchmark's settings, driven by a policy."""
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from pogema import GridConfig, pogema_v0

from marlgpt_planner.actions import moves
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import UNREACHABLE, DistanceFields, neighbour_distances
from marlgpt_planner.lookahead import Search, search_step
from marlgpt_planner.shield import RESOLUTIONS, GoalAges, rank
from marlgpt_training.benchmark.mapset import Instance
from marlgpt_training.policies.base import Policy

#: Moves remembered per agent for the policies (the encoder reads up to this many).
HISTORY = 8


@dataclass
class EpisodeResult:
    map_name: str
    seed: int
    num_agents: int
    steps: int
    goals: int
    avg_throughput: float
    seconds: float


def make_env(instance: Instance):
    """The benchmark's POGEMA environment for ``instance`` (lifelong, soft collisions)."""
    config = GridConfig(
        map=instance.grid, num_agents=instance.num_agents, seed=instance.seed,
        on_target=instance.on_target, max_episode_steps=instance.max_episode_steps,
        collision_system=instance.collision_system, observation_type="POMAPF",
        obs_radius=instance.obs_radius,
    )
    return pogema_v0(config)


def shielded_step(policy: Policy, state: GridState, fields: DistanceFields,
                  path_weight: float = 0.0, search: int = 1, seed: int = 0) -> np.ndarray:
    """The next cells (N, 2) the collision shield picks from ``policy``'s rankings (moves onto
    obstacles left out; ``path_weight`` times the path length each action leaves subtracted
    from its score) and the state's goal ages: no shared cells, no swaps. ``search`` > 1:
    the best of that many candidate steps by rollout (:mod:`marlgpt_planner.lookahead`,
    seeded by ``seed``)."""
    path_left = neighbour_distances(fields, state.positions, state.goals)
    scores = np.array(policy.preferences(state), dtype=np.float64)
    if path_weight:
        scores = scores - path_weight * path_left
    blocked = path_left >= UNREACHABLE
    blocked[:, 0] = False
    scores[blocked] = -np.inf
    return search_step(fields, state.positions, state.goals, rank(scores), state.ages, seed,
                       Search(candidates=search))


def run_episode(instance: Instance, policy: Policy, resolution: str = "soft",
                trace: Optional[List[np.ndarray]] = None,
                path_weight: float = 0.0, search: int = 1) -> EpisodeResult:
    """Run ``policy`` for the whole episode; throughput = goals reached / episode length.

    ``resolution``: ``soft`` hands the policy's actions to POGEMA, whose soft rule cancels
    conflicting moves; ``shield`` hands it the step the collision shield picks from the
    policy's rankings (:mod:`marlgpt_planner.shield`). POGEMA is the referee either way, and
    a shielded step it does not apply unchanged is an error. ``path_weight`` (shield only)
    blends the path length each action leaves into the rankings; ``search`` > 1 (shield only)
    picks each step among that many candidates by rollout. ``trace``, if given,
    receives every agent's cells (N, 2) after each step.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, "
                         f"got {resolution!r}")
    start = time.perf_counter()
    env = make_env(instance)
    env.reset()
    grid = env.unwrapped.grid
    obstacles = grid.get_obstacles(ignore_borders=True).astype(bool)
    fields = DistanceFields(obstacles, pad=max(policy.radius, 1))
    policy.reset(obstacles, instance.num_agents, seed=instance.seed, fields=fields)
    positions = np.array(grid.get_agents_xy(ignore_borders=True), dtype=np.int64)
    history = np.zeros((instance.num_agents, HISTORY), dtype=np.int64)
    goals_reached = 0
    steps = 0
    ages = GoalAges()
    info = [{}]
    while True:
        goals = np.array(grid.get_targets_xy(ignore_borders=True), dtype=np.int64)
        state = GridState(positions, goals, history,
                          np.array(ages.update(range(len(goals)), goals)))
        planned = None
        if resolution == "shield":
            # Seeded by the step number as the fleet counts steps (from 1).
            planned = shielded_step(policy, state, fields, path_weight, search, steps + 1)
            actions = moves(positions, planned)
        else:
            actions = policy.act(state)
        _, rewards, terminated, truncated, info = env.step([int(a) for a in actions])
        steps += 1
        goals_reached += int(round(sum(rewards)))
        new_positions = np.array(grid.get_agents_xy(ignore_borders=True), dtype=np.int64)
        if planned is not None and not np.array_equal(planned, new_positions):
            wrong = np.flatnonzero((planned != new_positions).any(axis=1)).tolist()
            raise RuntimeError(f"{instance.map_name} step {steps}: POGEMA did not apply the "
                               f"shielded step for agents {wrong}")
        if trace is not None:
            trace.append(new_positions)
        history = np.roll(history, 1, axis=1)
        history[:, 0] = moves(positions, new_positions)
        positions = new_positions
        if all(terminated) or all(truncated):
            break
    metrics = info[0].get("metrics", {})
    throughput = float(metrics.get("avg_throughput", goals_reached / steps))
    return EpisodeResult(instance.map_name, instance.seed, instance.num_agents, steps,
                         goals_reached, throughput, time.perf_counter() - start)
