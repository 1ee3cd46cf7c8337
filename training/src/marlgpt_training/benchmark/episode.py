"""One lifelong MAPF episode on POGEMA with the benchmark's settings, driven by a policy."""
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from pogema import GridConfig, pogema_v0

from marlgpt_planner.actions import moves
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import UNREACHABLE, DistanceFields, neighbour_distances
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.step_rule import SOFT_RULE, StepRule
from marlgpt_training.benchmark.mapset import Instance
from marlgpt_training.policies.base import GridPolicy

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


def ranked_step(policy: GridPolicy, state: GridState, fields: DistanceFields, rule: StepRule,
                seed: int = 0) -> np.ndarray:
    """The next cells (N, 2) ``rule`` settles from ``policy``'s rankings (its preferences,
    moves onto obstacles left out) and the state's goal ages: no shared cells, no swaps;
    ``seed`` seeds the rule's search."""
    path_left = neighbour_distances(fields, state.positions, state.goals)
    allowed = path_left < UNREACHABLE
    allowed[:, 0] = True
    if rule.in_turn:
        return rule.settle(state.positions, None, state.ages, state.goals, fields, seed=seed,
                           decide=policy.decider(state, rule, allowed, path_left),
                           radius=policy.radius)
    rankings = rule.rank(np.array(policy.preferences(state), dtype=np.float64), allowed,
                         path_left)
    return rule.settle(state.positions, rankings, state.ages, state.goals, fields, seed=seed)


def run_episode(instance: Instance, policy: GridPolicy, rule: StepRule = SOFT_RULE,
                trace: Optional[List[np.ndarray]] = None) -> EpisodeResult:
    """Run ``policy`` for the whole episode; throughput = goals reached / episode length.

    ``rule`` (:class:`~marlgpt_planner.step_rule.StepRule`): the soft rule hands the policy's
    actions to POGEMA, whose soft rule cancels conflicting moves; a ranking rule (the shield,
    with its path weight and search) hands it the step the rule settles from the policy's
    rankings; the sequential rule asks the policy agent by agent (:meth:`GridPolicy.decider`);
    a rule without rotations settles even the soft rule's step itself.
    POGEMA is the referee either way, and a settled step it does not apply unchanged is an
    error. ``trace``, if given, receives every agent's cells (N, 2) after
    each step.
    """
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
        if rule.ranks:
            # Seeded by the step number as the fleet counts steps (from 1).
            planned = ranked_step(policy, state, fields, rule, steps + 1)
            actions = moves(positions, planned)
        else:
            actions = policy.act(state)
            if not rule.rotations:  # the soft rule, with the rings' moves cancelled
                planned = rule.settle(positions, [[int(a)] for a in actions], state.ages,
                                      obstacles=obstacles)
                actions = moves(positions, planned)
        _, rewards, terminated, truncated, info = env.step([int(a) for a in actions])
        steps += 1
        goals_reached += int(round(sum(rewards)))
        new_positions = np.array(grid.get_agents_xy(ignore_borders=True), dtype=np.int64)
        if planned is not None and not np.array_equal(planned, new_positions):
            wrong = np.flatnonzero((planned != new_positions).any(axis=1)).tolist()
            raise RuntimeError(f"{instance.map_name} step {steps}: POGEMA did not apply the "
                               f"settled step for agents {wrong}")
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
