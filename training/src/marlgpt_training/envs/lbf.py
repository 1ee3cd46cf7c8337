"""``lbf``: Level-Based Foraging (``lbforaging``), the second environment: tokens, episodes,
data, and its evaluation.

Agents with levels collect food on a grid; a food is collected when agents standing next to
it, whose levels add up to at least the food's level, all pick LOAD in the same step. Tasks
vary the field size, the number of agents and of foods.

Tokens (layout ``lbf-vector`` v1, 18 tokens): LBF's own observation vector, each element a
token. Foods first (up to 3: row, col, level; team 2, agent index 1..3), then the observing
agent (team 0, index 0) and the other agents (team 1, index 1..2), each (row, col, level).
Coordinates are divided by the field size, levels by 3; absent foods and agents read -1.
Actions: 0 none, 1 north, 2 south, 3 west, 4 east, 5 load; unavailable ones are masked.

The expert (``marlgpt_training.expert.foraging``) is a team heuristic: every agent heads for
the same food (the one closest to all agents together), and loads once it stands next to it.

Evaluation (``marlgpt eval --env lbf``, :func:`run_eval`): the normalised team return over
seeded episodes, the tasks in turn (:func:`evaluate`). The registry entry
(``marlgpt_training.envs``): the module-level names below.
"""
import argparse
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from marlgpt_training import tasks as task_lists
from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.envs import common
from marlgpt_training.expert.foraging import NUM_ACTIONS, action_mask, expert_actions

NAME = "lbf"
SUMMARY = "Level-Based Foraging (a second, small cooperative task)"
EVALUATION = "normalised team return over --episodes episodes"
SCORE_UNIT = "normalised return"
ENCODER = "lbf-vector"
VECTOR = True
DELTA_DATA = False
#: Token teams whose slots are interchangeable (``data.shuffle_agents``): the other players
#: and the foods.
EXCHANGEABLE = (1, 2)
PACKAGE = ("lbforaging", "training environment: Level-Based Foraging", "lbforaging")
ENV_ID = 1
MAX_FOODS, MAX_PLAYERS, MAX_LEVEL = 3, 3, 3
TOKEN_NAMES = ("row", "col", "level")
#: (field size, agents, foods) of the tasks; an episode draws one.
TASKS = ((8, 2, 2), (8, 3, 2), (10, 3, 3), (10, 2, 3))
MAX_STEPS = 50


def layout() -> dict:
    """The token layout: encoder name, version and the four index arrays."""
    attr, team, agent, time = [], [], [], []
    for food in range(MAX_FOODS):
        for k in range(3):
            attr.append(k)
            team.append(2)
            agent.append(food + 1)
            time.append(0)
    for player in range(MAX_PLAYERS):
        for k in range(3):
            attr.append(3 + k)
            team.append(0 if player == 0 else 1)
            agent.append(player)
            time.append(0)
    return {"encoder": ENCODER, "encoder_version": 1, "num_tokens": len(attr),
            "num_actions": NUM_ACTIONS,
            "indices": {"attr": attr, "team": team, "agent": agent, "time": time}}


def make_env(task: Tuple[int, int, int]):
    from lbforaging.foraging.environment import ForagingEnv

    size, players, foods = task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ForagingEnv(players=players, min_player_level=1, max_player_level=MAX_LEVEL,
                           min_food_level=1, max_food_level=None, field_size=(size, size),
                           max_num_food=foods, sight=size, max_episode_steps=MAX_STEPS,
                           force_coop=False)


def tokens(obs: Sequence[np.ndarray], task: Tuple[int, int, int]) -> np.ndarray:
    """(N, 18) token values from LBF's per-agent observation vectors."""
    size, players, foods = task
    out = np.full((len(obs), 3 * (MAX_FOODS + MAX_PLAYERS)), -1.0, dtype=np.float32)
    scale = np.array([size, size, MAX_LEVEL], dtype=np.float32)
    for i, vector in enumerate(obs):
        v = np.asarray(vector, dtype=np.float32).reshape(-1, 3)
        food, agent = v[:foods], v[foods:foods + players]
        food = np.where(food[:, 2:3] > 0, food / scale, -1.0)
        out[i, :3 * foods] = food.reshape(-1)
        out[i, 3 * MAX_FOODS:3 * MAX_FOODS + 3 * players] = (agent / scale).reshape(-1)
    return out


@dataclass(frozen=True)
class ForagingConfig:
    seed: int = 0
    #: The tasks episodes draw from (``marlgpt generate --tasks``: a task file's train list).
    tasks: Tuple[Tuple[int, int, int], ...] = TASKS

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(tuple(int(v) for v in t) for t in self.tasks))
        problem = task_problem(self.tasks)
        if problem:
            raise ValueError(problem)


def task_problem(tasks: Sequence[Sequence[int]]) -> Optional[str]:
    """What makes these tasks unplayable here (None: nothing)."""
    for task in tasks:
        if len(task) != 3:
            return f"an lbf task is (field size, players, foods), got {list(task)}"
        size, players, foods = task
        if not (5 <= size <= 20 and 1 <= players <= MAX_PLAYERS and 1 <= foods <= MAX_FOODS):
            return (f"lbf task {list(task)}: field size 5-20, 1-{MAX_PLAYERS} players and "
                    f"1-{MAX_FOODS} foods (the token layout's slots)")
    return None if tasks else "no lbf tasks"


class ForagingGenerator:
    """The ``lbf`` environment for :func:`marlgpt_training.data.generate.generate`."""

    name = NAME
    env_id = ENV_ID
    num_actions = NUM_ACTIONS

    def __init__(self, config: ForagingConfig = ForagingConfig()) -> None:
        self.config = config

    def settings(self) -> dict:
        return dict(asdict(self.config), tasks=[list(t) for t in self.config.tasks],
                    max_steps=MAX_STEPS)

    def token_layout(self) -> dict:
        return layout()

    def episode(self, index: int, tokens_: bool = True) -> EpisodeRecord:
        rng = np.random.default_rng([self.config.seed, index])
        tasks = self.config.tasks
        task = tasks[int(rng.integers(len(tasks)))]
        seed = int(rng.integers(2**31))
        record, score = run_episode(task, seed, lambda env, toks, mask: expert_actions(env, rng))
        record.episode = index
        record.info.update(map_kind=f"{task[0]}x{task[0]}-{task[1]}p-{task[2]}f", seed=seed,
                           throughput=score, goals_reached=int(record.info["foods"]))
        if not tokens_:
            record.tokens = None
        return record


def run_episode(task: Tuple[int, int, int], seed: int,
                act: Callable[[object, np.ndarray, np.ndarray], np.ndarray]
                ) -> Tuple[EpisodeRecord, float]:
    """One episode with ``act(env, tokens, mask) -> actions``; the record and its score.

    Score: the team's normalised return (1.0 when every food is collected).
    """
    env = make_env(task)
    obs, _ = env.reset(seed=seed)
    rows: Dict[str, List[np.ndarray]] = {"tokens": [], "action": [], "mask": [], "reward": []}
    score, done = 0.0, False
    foods = int((env.field > 0).sum())
    while not done:
        toks, mask = tokens(obs, task), action_mask(env)
        actions = np.asarray(act(env, toks, mask), dtype=np.int64)
        obs, reward, terminated, truncated, _ = env.step(actions.tolist())
        rows["tokens"].append(toks)
        rows["action"].append(actions)
        rows["mask"].append(mask)
        rows["reward"].append(np.asarray(reward, dtype=np.float32))
        score += float(np.sum(reward))
        done = bool(terminated) or bool(truncated)
    steps = len(rows["action"])
    done_flags = np.zeros((steps, task[1]), dtype=bool)
    done_flags[-1] = True
    collected = foods - int((env.field > 0).sum())
    record = EpisodeRecord(episode=0, env_id=ENV_ID, action=np.stack(rows["action"]),
                           action_mask=np.stack(rows["mask"]),
                           reward=np.stack(rows["reward"]), done=done_flags,
                           tokens=np.stack(rows["tokens"]).astype(np.float16),
                           info={"foods": collected, "steps": steps, "task": list(task)})
    return record, score


def evaluate(act: Callable[[object, np.ndarray, np.ndarray], np.ndarray], episodes: int,
             seed: int = 10_000, tasks: Sequence[Tuple[int, int, int]] = TASKS
             ) -> Dict[str, float]:
    """Mean normalised team return over ``episodes`` seeded episodes (tasks in turn), per task
    and overall (``score``), with each one's 95 % half-width (``NAME_ci95``) and the overall
    per-episode returns (``returns``, for paired comparisons)."""
    scores: Dict[str, List[float]] = {}
    for k in range(episodes):
        task = tuple(tasks[k % len(tasks)])
        _, score = run_episode(task, seed + k, act)
        scores.setdefault(f"{task[0]}x{task[0]}-{task[1]}p-{task[2]}f", []).append(score)
    returns = [s for v in scores.values() for s in v]
    out: Dict[str, object] = {}
    for name, values in [*scores.items(), ("score", returns)]:
        out[name], out[f"{name}_ci95"] = common.interval(values)
    out["returns"] = [float(s) for s in returns]
    return out


# --- the registry entry -----------------------------------------------------------------------

def make_generator(settings: dict) -> ForagingGenerator:
    return ForagingGenerator(ForagingConfig(**settings))


def generator_settings(args: argparse.Namespace) -> dict:
    """``marlgpt generate``'s options: the seed, and the tasks (the module's mix, or a task
    file's train list with ``--tasks``)."""
    settings = {"seed": args.seed}
    if getattr(args, "tasks", None):
        settings["tasks"] = tuple(task_lists.load(args.tasks, NAME)["train"])
    return settings


def check_generate(args: argparse.Namespace) -> List[str]:
    return common.no_scenarios(args) + _task_file_problems(args)


def check_eval(args: argparse.Namespace) -> List[str]:
    return common.check_vector_eval(args, game_ai=False) + _task_file_problems(args)


def _task_file_problems(args: argparse.Namespace) -> List[str]:
    if not getattr(args, "tasks", None):
        return []
    try:
        lists = task_lists.load(args.tasks, NAME)
    except ValueError as exc:
        return [str(exc)]
    problem = task_problem(lists["train"] + lists["test"])
    return [f"--tasks {args.tasks}: {problem}"] if problem else []


def run_eval(args: argparse.Namespace) -> dict:
    """``--episodes`` seeded episodes of ``--policy`` (expert, random or a checkpoint): the
    scores per task and overall printed and returned."""
    rng = np.random.default_rng(0)
    try:
        if args.policy == "expert":
            def act(env, tokens, mask):
                return expert_actions(env, rng)
        elif args.policy == "random":
            act = common.random_act(rng)
        else:
            act = common.model_act(args, NAME, ENCODER)
        tasks = task_lists.load(args.tasks, NAME)["test"] if getattr(args, "tasks", None) \
            else TASKS
        scores = evaluate(act, args.episodes, tasks=tasks)
    except OSError as exc:
        raise ValueError(str(exc)) from exc
    held_out = f"; the test tasks of {args.tasks}" if getattr(args, "tasks", None) else ""
    print(f"lbf: normalised team return over {args.episodes} episodes ({args.policy}; mean "
          f"+- 95 % interval{held_out})")
    for name, value in scores.items():
        if not name.endswith("_ci95") and name != "returns":
            print(f"  {name:<12} {value:.3f} +- {scores[name + '_ci95']:.3f}")
    return common.vector_results(args, scores)
