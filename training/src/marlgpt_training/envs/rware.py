"""``rware``: the multi-robot warehouse (``rware``, Papoudakis, Christianos et al.), the fourth
environment: tokens, episodes, data, and its evaluation.

Robots fetch requested shelves from a warehouse floor, carry them to the goal cells at the
bottom (a delivery: RWARE's reward, 1 to the delivering agent) and bring them back to an empty
shelf cell. A task is a warehouse size and an agent count, RWARE's ``rware-{size}-{N}ag-v2``:
as many requested shelves as agents, a sensor range of 1, 500 steps.

Tokens (layout ``rware-vector`` v2, 80 tokens): RWARE's own flattened observation vector (the
first 71, v1's whole layout), each element a token, then the agent's errand (9). The observing
agent first (team 0, agent index 0; attributes 0-7): x and y
(divided by the grid's width - 1 and height - 1, as RWARE's ``normalised_coordinates``),
carrying a shelf, its heading one-hot (up, down, left, right), on a highway. Then the nine cells
of its 3 x 3 view, row by row from the top left (agent index 1..9, the centre is 5), 7 tokens
each, the same attributes for every cell: another agent there (team 1, attribute 8), its
heading one-hot (team 1, attributes 9-12; up when no agent), a shelf there (team 2,
attribute 13), that shelf requested (team 2, attribute 14). Cells off the grid read 0.

The errand (agent index 0, team 3, attributes 15-23; :func:`errands`): RWARE's 3 x 3 view
does not show where the requested shelves are, which the expert reads from the request queue,
so an empty-handed robot cannot imitate the fetching half of its cycle from v1's tokens (a
model trained on them delivered nothing, docs/BENCHMARKS.md). A warehouse robot gets its
errand from the warehouse system, as a POGEMA robot its cost-to-go from the map: which errand
it is on (one-hot: fetch a requested shelf, deliver the carried one, return a delivered one to
an empty shelf cell; all 0 with nothing to do), then for each action how much it shortens the
remaining path to the nearest cell of that errand (breadth-first over (cell, heading), turns
cost a step, a loaded robot avoids standing shelves: -1 shorter, 0 no change, +1 longer or not
possible; toggle load -1 where it completes the errand), then that path's length divided by
the grid's width + height (1 with nothing to do or no path).

Actions: 0 none, 1 forward, 2 turn left, 3 turn right, 4 toggle load; the mask
(``marlgpt_training.expert.warehouse.action_mask``) drops the moves off the grid or, loaded,
into a standing shelf, and a toggle that would do nothing.

The expert (``marlgpt_training.expert.warehouse``) claims one requested shelf per agent, walks
breadth-first shortest paths over (cell, heading), delivers it, returns it to the nearest free
shelf cell, parks idle agents off the corridors and plans around agents that block it. The
greedy baseline is the same cycle with every agent on its own.

Evaluation (``marlgpt eval --env rware``, :func:`run_eval`): deliveries per step (RWARE's team
reward per step) per task over seeded episodes, mean and 95 % interval (:func:`evaluate`).
The registry entry (``marlgpt_training.envs``): the module-level names below.
"""
import argparse
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from marlgpt_training import tasks as task_lists
from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.envs import common
from marlgpt_training.expert.warehouse import (
    FORWARD,
    LEFT_OF,
    NUM_ACTIONS,
    RIGHT_OF,
    STEPS,
    TOGGLE_LOAD,
    UNREACHABLE,
    action_mask,
    distances,
    expert,
    greedy,
    standing_shelves,
)

NAME = "rware"
SUMMARY = "the multi-robot warehouse (RWARE: fetch requested shelves, deliver, return them)"
EVALUATION = "deliveries per step per task (--rware-size x --agents) over --episodes episodes"
SCORE_UNIT = "deliveries/step"
ENCODER = "rware-vector"
VECTOR = True
DELTA_DATA = False
#: Token teams whose slots are interchangeable (``data.shuffle_agents``): none; the slots are
#: the cells of the agent's view, places rather than agents.
EXCHANGEABLE = ()
PACKAGE = ("rware", "training environment: the multi-robot warehouse", "rware")
ENV_ID = 3
#: RWARE's warehouse sizes (shelf rows x shelf columns of 8-shelf-high blocks).
SIZES = ("tiny", "small", "medium", "large")
#: RWARE registers 1..19 agents per size.
MAX_AGENTS = 19
DEFAULT_SIZES, DEFAULT_AGENTS = ("tiny",), (2, 4)
MAX_STEPS = 500
ENCODER_VERSION = 2
SELF_TOKENS, CELL_TOKENS, CELLS = 8, 7, 9
#: RWARE's own observation vector (sensor range 1): v1's whole layout.
VIEW_TOKENS = SELF_TOKENS + CELLS * CELL_TOKENS
#: Errands: fetch a requested shelf, deliver it, return a delivered shelf.
FETCH, DELIVER, RETURN = range(3)
ERRAND_TOKENS = 3 + NUM_ACTIONS + 1
NUM_TOKENS = VIEW_TOKENS + ERRAND_TOKENS
#: The built-in policies of ``marlgpt eval --env rware``.
POLICIES = ("expert", "greedy", "random")

Task = Tuple[str, int]  # (size, agents)


def task_name(task: Task) -> str:
    return f"{task[0]}-{task[1]}ag"


def layout() -> dict:
    """The token layout: encoder name, version and the four index arrays."""
    attr = list(range(SELF_TOKENS))
    team = [0] * SELF_TOKENS
    agent = [0] * SELF_TOKENS
    for cell in range(CELLS):
        attr += list(range(SELF_TOKENS, SELF_TOKENS + CELL_TOKENS))
        team += [1] * 5 + [2] * 2
        agent += [cell + 1] * CELL_TOKENS
    first = SELF_TOKENS + CELL_TOKENS
    attr += list(range(first, first + ERRAND_TOKENS))
    team += [3] * ERRAND_TOKENS
    agent += [0] * ERRAND_TOKENS
    return {"encoder": ENCODER, "encoder_version": ENCODER_VERSION, "num_tokens": len(attr),
            "num_actions": NUM_ACTIONS,
            "indices": {"attr": attr, "team": team, "agent": agent, "time": [0] * len(attr)}}


def make_env(task: Task, steps: int = MAX_STEPS):
    """RWARE's ``rware-{size}-{N}ag-v2`` (the bare ``Warehouse``, no gymnasium wrappers)."""
    import gymnasium
    import rware  # noqa: F401  (registers the rware-* ids)

    size, agents = task
    env = gymnasium.make(f"rware-{size}-{agents}ag-v2", disable_env_checker=True).unwrapped
    env.max_steps = steps
    return env


def tokens(obs: Sequence[np.ndarray], env, cache: Optional[dict] = None,
           mask: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, 80) token values: RWARE's per-agent observation vectors and each agent's errand
    (``cache``: distance fields kept between the steps of one episode; ``mask``: this step's
    :func:`action_mask`, when the caller has it)."""
    view = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1).copy()
    if view.shape[1] != VIEW_TOKENS:
        raise ValueError(f"RWARE observations of {view.shape[1]} values, expected "
                         f"{VIEW_TOKENS} (sensor range 1, no message bits)")
    height, width = env.grid_size
    view[:, 0] /= width - 1
    view[:, 1] /= height - 1
    return np.concatenate([view, errands(env, cache, mask)], axis=1)


def errands(env, cache: Optional[dict] = None,
            mask: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, 9) each agent's errand tokens (the module doc): its kind, one-hot; per action the
    change of the path left to it, in -1..1; that path's length over width + height."""
    cache = {} if cache is None else cache
    height, width = env.grid_size
    standing = standing_shelves(env)
    waiting = tuple(sorted((int(s.x), int(s.y)) for s in env.request_queue
                           if standing[s.y, s.x]))
    requested = {s.id for s in env.request_queue}
    goals = tuple(sorted((int(x), int(y)) for x, y in env.goals))
    empty = tuple(sorted((int(x), int(y)) for y, x in np.argwhere(~standing & (env.highways == 0))))
    mask = action_mask(env) if mask is None else mask
    out = np.zeros((len(env.agents), ERRAND_TOKENS), dtype=np.float32)
    out[:, -1] = 1.0
    for i, agent in enumerate(env.agents):
        shelf = agent.carrying_shelf
        if shelf is None:
            errand, targets, passable = FETCH, waiting, None
        else:
            errand = DELIVER if shelf.id in requested else RETURN
            targets, passable = (goals if errand == DELIVER else empty), ~standing
        if not targets:
            continue
        key = (targets, None if passable is None else passable.tobytes())
        if key not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[key] = distances(np.ones_like(standing) if passable is None else passable,
                                   targets)
        dist = cache[key]
        here = (agent.y * width + agent.x) * 4
        heading = agent.dir.value
        now = dist[here + heading]
        if now >= UNREACHABLE:
            continue
        # The path left after each action (a step taken): a move or turn on a shortest path
        # leaves one step less.
        after = [now, UNREACHABLE, dist[here + LEFT_OF[heading]],
                 dist[here + RIGHT_OF[heading]], UNREACHABLE]
        dx, dy = STEPS[heading]
        if mask[i, FORWARD]:
            after[FORWARD] = dist[((agent.y + dy) * width + agent.x + dx) * 4 + heading]
        on_target = (agent.x, agent.y) in targets
        if on_target and errand != DELIVER:  # a toggle picks the shelf up or puts it down
            after[TOGGLE_LOAD] = now - 1
        out[i, errand] = 1.0
        out[i, 3:3 + NUM_ACTIONS] = np.clip(np.array(after, dtype=np.float64) - now, -1, 1)
        out[i, -1] = min(1.0, now / (width + height))
    return out


def check_tasks(sizes: Sequence[str], agents: Sequence[int]) -> List[Task]:
    """Every (size, agents) pair; a ValueError for unknown sizes or counts."""
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        raise ValueError(f"unknown RWARE sizes {unknown or '[]'}; known: {', '.join(SIZES)}")
    bad = [n for n in agents if not 1 <= int(n) <= MAX_AGENTS]
    if bad or not agents:
        raise ValueError(f"RWARE agent counts must lie in 1..{MAX_AGENTS}, got {list(agents)}")
    return [(s, int(n)) for s in sizes for n in agents]


Act = Callable[[object, np.ndarray, np.ndarray], np.ndarray]


def run_episode(task: Task, seed: int, act: Act, steps: int = MAX_STEPS
                ) -> Tuple[EpisodeRecord, int]:
    """One episode with ``act(env, tokens, mask) -> actions``; the record and its deliveries."""
    env = make_env(task, steps)
    obs, _ = env.reset(seed=seed)
    agents = task[1]
    rows: Dict[str, List[np.ndarray]] = {"tokens": [], "action": [], "mask": [], "reward": []}
    done, fields = False, {}
    while not done:
        mask = action_mask(env)
        toks = tokens(obs, env, fields, mask)
        actions = np.asarray(act(env, toks, mask), dtype=np.int64)
        if actions.shape != (agents,) or actions.min() < 0 or actions.max() >= NUM_ACTIONS:
            raise ValueError(f"a policy gave actions {actions.tolist()} for {agents} agents")
        obs, reward, terminated, truncated, _ = env.step(actions.tolist())
        rows["tokens"].append(toks)
        rows["action"].append(actions)
        rows["mask"].append(mask)
        rows["reward"].append(np.asarray(reward, dtype=np.float32))
        done = bool(terminated) or bool(truncated)
    length = len(rows["action"])
    flags = np.zeros((length, agents), dtype=bool)
    flags[-1] = True
    reward = np.stack(rows["reward"])
    deliveries = int(round(float(reward.sum())))
    record = EpisodeRecord(episode=0, env_id=ENV_ID, action=np.stack(rows["action"]),
                           action_mask=np.stack(rows["mask"]), reward=reward, done=flags,
                           tokens=np.stack(rows["tokens"]).astype(np.float16),
                           info={"task": [task[0], agents], "deliveries": deliveries,
                                 "steps": length})
    return record, deliveries


def expert_act(rng: np.random.Generator) -> Act:
    """``act(env, tokens, mask)`` of a fresh expert (one per episode: it keeps claims)."""
    policy = expert(rng)
    return lambda env, toks, mask: policy(env)


def greedy_act(rng: np.random.Generator) -> Act:
    policy = greedy(rng)
    return lambda env, toks, mask: policy(env)


@dataclass(frozen=True)
class WarehouseConfig:
    seed: int = 0
    #: Sizes and agent counts; an episode draws one of each.
    sizes: Tuple[str, ...] = DEFAULT_SIZES
    agents: Tuple[int, ...] = DEFAULT_AGENTS
    steps: int = MAX_STEPS
    #: Or the tasks themselves (``marlgpt generate --tasks``: a task file's train list); an
    #: episode draws one.
    tasks: Optional[Tuple[Task, ...]] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "agents", tuple(int(n) for n in self.agents))
        check_tasks(self.sizes, self.agents)
        if self.tasks is not None:
            object.__setattr__(self, "tasks", tuple((str(s), int(n)) for s, n in self.tasks))
            for size, agents in self.tasks:
                check_tasks([size], [agents])
            if not self.tasks:
                raise ValueError("no rware tasks")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")


class WarehouseGenerator:
    """The ``rware`` environment for :func:`marlgpt_training.data.generate.generate`."""

    name = NAME
    env_id = ENV_ID
    num_actions = NUM_ACTIONS

    def __init__(self, config: WarehouseConfig = WarehouseConfig()) -> None:
        self.config = config

    def settings(self) -> dict:
        tasks = self.config.tasks
        return dict(asdict(self.config), sizes=list(self.config.sizes),
                    agents=list(self.config.agents), expert="warehouse",
                    tasks=None if tasks is None else [list(t) for t in tasks])

    def token_layout(self) -> dict:
        return layout()

    def episode(self, index: int, tokens_: bool = True) -> EpisodeRecord:
        rng = np.random.default_rng([self.config.seed, index])
        if self.config.tasks is not None:
            task = self.config.tasks[int(rng.integers(len(self.config.tasks)))]
        else:
            task = (self.config.sizes[int(rng.integers(len(self.config.sizes)))],
                    self.config.agents[int(rng.integers(len(self.config.agents)))])
        seed = int(rng.integers(2**31))
        record, deliveries = run_episode(task, seed, expert_act(rng), self.config.steps)
        steps = record.info["steps"]
        record.episode = index
        record.info.update(map_kind=task_name(task), seed=seed,
                           throughput=deliveries / steps, goals_reached=deliveries)
        if not tokens_:
            record.tokens = None
        return record


# --- evaluation -------------------------------------------------------------------------------

def episode_scores(policy: Callable[[np.random.Generator], Act], episodes: int,
                   tasks: Sequence[Task] = (("tiny", 2), ("tiny", 4)), seed: int = 10_000,
                   steps: int = MAX_STEPS, progress: Callable[[], None] = lambda: None
                   ) -> List[Tuple[Task, float]]:
    """(task, deliveries per step) of ``episodes`` seeded episodes, the tasks in turn:
    episode ``k`` plays ``tasks[k % len(tasks)]`` from seed ``seed + k`` with
    ``policy(default_rng([seed, k]))``, its acting function."""
    out = []
    for k in range(episodes):
        task = tasks[k % len(tasks)]
        rng = np.random.default_rng([seed, k])
        _, deliveries = run_episode(task, seed + k, policy(rng), steps)
        out.append((task, deliveries / steps))
        progress()
    return out


def evaluate(policy: Callable[[np.random.Generator], Act], episodes: int,
             tasks: Sequence[Task] = (("tiny", 2), ("tiny", 4)), seed: int = 10_000,
             steps: int = MAX_STEPS, progress: Callable[[], None] = lambda: None) -> dict:
    """Deliveries per step per task over :func:`episode_scores`' episodes: per task and over
    all episodes (``all``), the mean and its 95 % interval, and deliveries per episode."""
    per_task: Dict[str, List[float]] = {task_name(t): [] for t in tasks}
    for task, value in episode_scores(policy, episodes, tasks, seed, steps, progress):
        per_task[task_name(task)].append(value)
    report = {}
    everything = [v for values in per_task.values() for v in values]
    for name, values in [*per_task.items(), ("all", everything)]:
        if not values:
            continue
        mean, half = common.interval(values)
        report[name] = {"episodes": len(values), "deliveries_per_step": mean,
                        "deliveries_per_step_ci95": half, "deliveries": mean * steps}
    return report


def policy_factory(args: argparse.Namespace) -> Callable[[np.random.Generator], Act]:
    """``--policy``: expert, greedy, random, or a checkpoint."""
    if args.policy == "expert":
        return expert_act
    if args.policy == "greedy":
        return greedy_act
    if args.policy == "random":
        return common.random_act
    model = common.model_act(args, NAME, ENCODER, ENCODER_VERSION)
    return lambda rng: model


# --- the registry entry -----------------------------------------------------------------------

def make_generator(settings: dict) -> WarehouseGenerator:
    return WarehouseGenerator(WarehouseConfig(**settings))


def generator_settings(args: argparse.Namespace) -> dict:
    """``marlgpt generate``'s options: the seed, ``--rware-size`` and ``--agents``, or a task
    file's train list (``--tasks``)."""
    settings = {"seed": args.seed, "sizes": list(args.rware_size or DEFAULT_SIZES),
                "agents": list(args.agents or DEFAULT_AGENTS)}
    if getattr(args, "tasks", None):
        settings["tasks"] = tuple(task_lists.load(args.tasks, NAME)["train"])
    return settings


def chosen_tasks(args: argparse.Namespace, split: str = "test") -> List[Task]:
    """The tasks a command plays: ``--tasks``' ``split`` list, else ``--rware-size`` x
    ``--agents``; a ValueError that says what is wrong."""
    if getattr(args, "tasks", None):
        if args.rware_size or args.agents:
            raise ValueError("--tasks names the tasks: leave out --rware-size and --agents")
        tasks = task_lists.load(args.tasks, NAME)[split]
        for size, agents in tasks:
            check_tasks([size], [agents])
        return [(str(s), int(n)) for s, n in tasks]
    return check_tasks(args.rware_size or DEFAULT_SIZES, args.agents or DEFAULT_AGENTS)


def _check_tasks(args: argparse.Namespace) -> List[str]:
    try:
        for split in ("train", "test") if getattr(args, "tasks", None) else ("test",):
            chosen_tasks(args, split)
    except ValueError as exc:
        return [str(exc) if getattr(args, "tasks", None) else f"--rware-size/--agents: {exc}"]
    return []


def check_generate(args: argparse.Namespace) -> List[str]:
    return common.no_scenarios(args) + _check_tasks(args)


def check_eval(args: argparse.Namespace) -> List[str]:
    problems = common.check_vector_eval(args, game_ai=False) + _check_tasks(args)
    if args.sample and args.policy == "greedy":
        problems.append("--sample needs a model; 'greedy' has no distribution to sample")
    return problems


def run_eval(args: argparse.Namespace) -> dict:
    """``--episodes`` seeded episodes over the tasks (``--rware-size`` x ``--agents``) in turn
    with ``--policy`` (expert, greedy, random or a checkpoint): deliveries per step per task and
    overall, with 95 % intervals, printed and returned."""
    from tqdm import tqdm

    tasks = chosen_tasks(args)
    try:
        policy = policy_factory(args)
        bar = tqdm(total=args.episodes, unit="episode", desc="rware", disable=args.no_progress,
                   dynamic_ncols=True)
        try:
            report = evaluate(policy, args.episodes, tasks, progress=lambda: bar.update(1))
        finally:
            bar.close()
    except OSError as exc:
        raise ValueError(str(exc)) from exc
    held_out = f"; the test tasks of {args.tasks}" if getattr(args, "tasks", None) else ""
    print(f"rware: deliveries per step, {args.policy} over {args.episodes} episodes of "
          f"{MAX_STEPS} steps (95 % intervals{held_out})")
    print(f"  {'task':<12} {'episodes':>8} {'deliveries/step':>20} {'per episode':>12}")
    for name, row in report.items():
        rate = f"{row['deliveries_per_step']:.4f} +- {row['deliveries_per_step_ci95']:.4f}"
        print(f"  {name:<12} {row['episodes']:>8} {rate:>20} {row['deliveries']:>12.1f}")
    return common.vector_results(args, {"tasks": report,
                                        "score": report["all"]["deliveries_per_step"]})
