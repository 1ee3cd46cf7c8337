"""Where the sequential resolution's own decisions jam: goals over time, and the oldest robot.

Usage: scripts/run python scripts/sequential_jams.py --model MODEL.onnx
           [--map-kind mazes] [--size 25] [--agents 48] [--episodes 3] [--steps 256]

For each of ``--episodes`` generated lifelong episodes (the training generator's maps, seeds
0, 1, ...) the model drives every robot under the sequential resolution, and plain PIBT (the
shield over PIBT's own rankings) drives the same start. Printed per episode and driver: the
goals reached in each eighth of the episode (a jam shows as a falling row) and the steps in
which the robot with the oldest goal, the one PIBT always moves toward its goal, did not get
closer to it.
"""
import argparse

import numpy as np

from marlgpt_planner.actions import moves
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import UNREACHABLE, neighbour_distances
from marlgpt_planner.lookahead import pibt_rankings
from marlgpt_planner.sequential import AskInTurn, sequential_step
from marlgpt_planner.shield import GoalAges, shield
from marlgpt_planner.step_rule import SEQUENTIAL, StepRule
from marlgpt_training.envs.pogema import (
    EpisodeSpec,
    GeneratorConfig,
    episode_start,
    make_encoder,
    make_expert,
    new_goals,
)
from marlgpt_training.policies.deployed import DeployedPolicy


def episode(model: str, driver: str, spec: EpisodeSpec) -> tuple:
    """(goals reached per eighth of the episode, steps the oldest robot did not progress)."""
    config = GeneratorConfig(claims=True)
    obstacles, free, positions, goals, rng = episode_start(spec)
    encoder = make_encoder(obstacles, config, make_expert(obstacles, spec.seed, config))
    policy = DeployedPolicy(model)
    policy.reset(obstacles, len(positions), spec.seed, encoder.fields)
    rule, ages = StepRule(SEQUENTIAL), GoalAges()
    n = len(positions)
    history = np.zeros((n, config.history), dtype=np.int64)
    reached, stuck = [], 0
    for _ in range(spec.steps):
        age = np.array(ages.update(range(n), goals))
        dist = neighbour_distances(encoder.fields, positions, goals)
        if driver == "pibt":
            after = shield(positions, pibt_rankings(encoder.fields, positions, goals), age)
        else:
            obs = encoder.encode(GridState(positions, goals, history, age))
            ask = AskInTurn(encoder, obs._replace(action_mask=obs.action_mask
                                                  & (dist < UNREACHABLE)),
                            positions, policy.logits, rule.choose)
            after, _ = sequential_step(positions, age.tolist(), ask, encoder.radius)
        oldest = int(np.lexsort((np.arange(n), -age))[0])
        stuck += int(neighbour_distances(encoder.fields, after, goals)[oldest, 0]
                     >= dist[oldest, 0])
        history = np.roll(history, 1, axis=1)
        history[:, 0] = moves(positions, after)
        positions = after
        at_goal = (positions == goals).all(axis=1)
        reached.append(int(at_goal.sum()))
        if at_goal.any():
            goals = goals.copy()
            goals[at_goal] = new_goals(free, positions[at_goal], rng)
    eighths = np.array_split(np.array(reached), 8)
    return [int(part.sum()) for part in eighths], stuck


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="an exported encoder-v3 model (.onnx)")
    parser.add_argument("--map-kind", default="mazes")
    parser.add_argument("--size", type=int, default=25)
    parser.add_argument("--agents", type=int, default=48)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--steps", type=int, default=256)
    args = parser.parse_args()
    for seed in range(args.episodes):
        spec = EpisodeSpec(seed, seed, args.map_kind, args.size, args.size, 0.2, args.agents,
                           args.steps)
        for driver in ("sequential", "pibt"):
            goals, stuck = episode(args.model, driver, spec)
            print(f"episode {seed} {driver:>10}: goals per eighth {goals} (total {sum(goals)}); "
                  f"oldest robot without progress in {stuck} of {args.steps} steps")


if __name__ == "__main__":
    main()
