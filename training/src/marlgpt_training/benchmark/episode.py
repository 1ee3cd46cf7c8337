"""One lifelong MAPF episode on POGEMA with the benchmark's settings, driven by a policy."""
import time
from dataclasses import dataclass

import numpy as np
from pogema import GridConfig, pogema_v0

from marlgpt_planner.actions import moves
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import DistanceFields
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


def run_episode(instance: Instance, policy: Policy) -> EpisodeResult:
    """Run ``policy`` for the whole episode; throughput = goals reached / episode length."""
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
    info = [{}]
    while True:
        goals = np.array(grid.get_targets_xy(ignore_borders=True), dtype=np.int64)
        actions = policy.act(GridState(positions, goals, history))
        _, rewards, terminated, truncated, info = env.step([int(a) for a in actions])
        steps += 1
        goals_reached += int(round(sum(rewards)))
        new_positions = np.array(grid.get_agents_xy(ignore_borders=True), dtype=np.int64)
        history = np.roll(history, 1, axis=1)
        history[:, 0] = moves(positions, new_positions)
        positions = new_positions
        if all(terminated) or all(truncated):
            break
    metrics = info[0].get("metrics", {})
    throughput = float(metrics.get("avg_throughput", goals_reached / steps))
    return EpisodeResult(instance.map_name, instance.seed, instance.num_agents, steps,
                         goals_reached, throughput, time.perf_counter() - start)
