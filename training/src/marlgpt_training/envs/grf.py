"""``grf``: Google Research Football (``gfootball``), the third environment: tokens, episodes,
data, and its evaluation.

The game runs headless through its engine API (``FootballEnv(Config)``; the package's gym
wrappers predate gym 0.26). Every player of the left team is an agent, the goalkeeper
included; the right team is the game's own AI. Four scenarios, the paper's: pass and shoot
with keeper, corner, easy counter-attack (academy, 400 steps at most, end on a goal or when
the ball goes out or changes side) and the full 11 vs 11 match against the easy AI (3,000
steps).

Tokens (layout ``grf-players`` v1, 94 tokens), read from the engine's raw observation and
seen from the observing player (pitch x in [-1, 1] towards the opponents' goal, y in
[-0.42, 0.42], positive y is the bottom touchline):

====  ======  =====  ======================================================================
team  agent   count  values
====  ======  =====  ======================================================================
0     0       17     own x, y, direction x, y (x 50), tiredness, role / 9, has the ball,
                     the ten sticky actions (8 directions, sprint, dribble)
3     0       9      ball x, y, z / 3, direction x, y, z (x 50), owner (-1 none, 0 us,
                     1 them), x and y relative to the player
4     0       3      game mode / 6, goal difference (clipped to +-3) / 3, steps left / 3000
1     1..5    7 x 5  the five nearest teammates: present, x and y relative to the player,
                     direction x, y (x 50), role / 9, has the ball
2     1..5    6 x 5  the five nearest opponents: present, relative x, y, direction x, y,
                     has the ball
====  ======  =====  ======================================================================

Absent teammates and opponents (small scenarios) read 0, ``present`` included. Actions: the
game's default set of 19 (idle, 8 directions, long, high and short pass, shot, sprint,
release direction and sprint, sliding, dribble, release dribble), always available.

The expert (``marlgpt_training.expert.football.ScriptedExpert``) is scripted in those 19
actions, so its labels are the actions the game executed; the game's own AI (``builtin``,
action 19 of the engine's ``v2`` set) drives players with no action to record, so it is an
evaluation reference only.

Evaluation (``marlgpt eval --env grf``, :func:`run_eval`): win rate and goal difference per
scenario over seeded episodes (:func:`evaluate`), beside the paper's. The registry entry
(``marlgpt_training.envs``): the module-level names below.
"""
import argparse
import math
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.envs import common
from marlgpt_training.expert.football import BUILTIN_AI, NUM_ACTIONS, ScriptedExpert, nearest

NAME = "grf"
SUMMARY = "Google Research Football (academy scenarios and the full match)"
EVALUATION = ("win rate and goal difference per scenario over --episodes episodes, beside the "
              "MARL-GPT paper's")
SCORE_UNIT = "win rate"
ENCODER = "grf-players"
VECTOR = True
DELTA_DATA = False
#: Token teams whose slots are interchangeable (``data.shuffle_agents``): the nearest
#: team-mates and the nearest rivals.
EXCHANGEABLE = (1, 2)
PACKAGE = ("gfootball_engine", "training environment: Google Research Football", "gfootball")
ENV_ID = 2
#: Scenario -> players per team (all of the left team are agents).
SCENARIOS: Dict[str, int] = {
    "academy_pass_and_shoot_with_keeper": 3,
    "academy_corner": 11,
    "academy_counterattack_easy": 11,
    "11_vs_11_easy_stochastic": 11,
}
#: The MARL-GPT paper's Table 1 win rates (%): (IPPO expert, MARL-GPT multi-domain).
PAPER_WIN_RATES: Dict[str, Tuple[float, float]] = {
    "academy_pass_and_shoot_with_keeper": (97, 96),
    "academy_corner": (40, 43),
    "academy_counterattack_easy": (89, 89),
    "11_vs_11_easy_stochastic": (99, 98),
}
NEAREST = 5
SELF_TOKENS, BALL_TOKENS, GAME_TOKENS, MATE_TOKENS, RIVAL_TOKENS = 17, 9, 3, 7, 6
NUM_TOKENS = SELF_TOKENS + BALL_TOKENS + GAME_TOKENS + NEAREST * (MATE_TOKENS + RIVAL_TOKENS)
SPEED = 50.0  # directions are distances per step (about 0.01): scaled to about 0.5
FULL_MATCH_STEPS = 3000


def layout() -> dict:
    """The token layout: encoder name, version and the four index arrays."""
    attr, team, agent = [], [], []

    def add(first_attr: int, count: int, team_: int, agent_: int) -> None:
        attr.extend(range(first_attr, first_attr + count))
        team.extend([team_] * count)
        agent.extend([agent_] * count)

    add(0, SELF_TOKENS, 0, 0)
    add(SELF_TOKENS, BALL_TOKENS, 3, 0)
    add(SELF_TOKENS + BALL_TOKENS, GAME_TOKENS, 4, 0)
    mate_attr = SELF_TOKENS + BALL_TOKENS + GAME_TOKENS
    for slot in range(NEAREST):
        add(mate_attr, MATE_TOKENS, 1, slot + 1)
    for slot in range(NEAREST):
        add(mate_attr + MATE_TOKENS, RIVAL_TOKENS, 2, slot + 1)
    return {"encoder": ENCODER, "encoder_version": 1, "num_tokens": len(attr),
            "num_actions": NUM_ACTIONS,
            "indices": {"attr": attr, "team": team, "agent": agent, "time": [0] * len(attr)}}


def tokens(observations: Sequence[dict]) -> np.ndarray:
    """(N, 94) token values, one row per controlled player, from the raw observations."""
    out = np.zeros((len(observations), NUM_TOKENS), dtype=np.float32)
    for row, obs in enumerate(observations):
        out[row] = _player_tokens(obs)
    return out


def _player_tokens(obs: dict) -> np.ndarray:
    me = int(obs["active"])
    mates, mate_dirs = np.asarray(obs["left_team"]), np.asarray(obs["left_team_direction"])
    rivals, rival_dirs = np.asarray(obs["right_team"]), np.asarray(obs["right_team_direction"])
    roles = np.asarray(obs["left_team_roles"])
    pos = mates[me]
    ball, ball_dir = np.asarray(obs["ball"]), np.asarray(obs["ball_direction"])
    owner_team, owner = int(obs["ball_owned_team"]), int(obs["ball_owned_player"])
    values: List[float] = [pos[0], pos[1], *(mate_dirs[me] * SPEED),
                           float(obs["left_team_tired_factor"][me]), roles[me] / 9.0,
                           float(owner_team == 0 and owner == me),
                           *np.asarray(obs["sticky_actions"], dtype=np.float32)]
    values += [ball[0], ball[1], ball[2] / 3.0, *(ball_dir * SPEED), float(owner_team),
               ball[0] - pos[0], ball[1] - pos[1]]
    goals = np.asarray(obs["score"])
    values += [float(obs["game_mode"]) / 6.0, float(np.clip(goals[0] - goals[1], -3, 3)) / 3.0,
               float(obs["steps_left"]) / FULL_MATCH_STEPS]
    others = [k for k in range(len(mates)) if k != me]
    for k in nearest(mates, others, pos)[:NEAREST]:
        values += [1.0, *(mates[k] - pos), *(mate_dirs[k] * SPEED), roles[k] / 9.0,
                   float(owner_team == 0 and owner == k)]
    values += [0.0] * MATE_TOKENS * (NEAREST - min(NEAREST, len(others)))
    for k in nearest(rivals, range(len(rivals)), pos)[:NEAREST]:
        values += [1.0, *(rivals[k] - pos), *(rival_dirs[k] * SPEED),
                   float(owner_team == 1 and owner == k)]
    values += [0.0] * RIVAL_TOKENS * (NEAREST - min(NEAREST, len(rivals)))
    return np.asarray(values, dtype=np.float32)


# --- episodes -------------------------------------------------------------------------------

def check_scenarios(names: Sequence[str], what: str = "scenarios") -> List[str]:
    """``names`` as a list; a ValueError naming the unknown ones (and the known) otherwise."""
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise ValueError(f"unknown {what} {unknown or '[]'}; known: {', '.join(SCENARIOS)}")
    return list(names)


def make_env(scenario: str, seed: int):
    """The game for ``scenario`` with every left player an agent (engine action set v2)."""
    from gfootball.env import config, football_env

    check_scenarios([scenario], "scenario")
    settings = {"level": scenario, "players": [f"agent:left_players={SCENARIOS[scenario]}"],
                "action_set": "v2", "real_time": False, "render": False,
                "write_video": False, "write_full_episode_dumps": False,
                "write_goal_dumps": False, "dump_frequency": 0, "logdir": "",
                "game_engine_random_seed": int(seed)}
    return football_env.FootballEnv(config.Config(settings))


@dataclass
class Outcome:
    """How an episode ended, for the left team."""

    goals_for: int
    goals_against: int
    steps: int

    @property
    def win(self) -> bool:
        return self.goals_for > self.goals_against

    @property
    def goal_difference(self) -> int:
        return self.goals_for - self.goals_against


Act = Callable[[Sequence[dict], np.ndarray, np.ndarray], np.ndarray]


def run_episode(scenario: str, seed: int, act: Act) -> Tuple[EpisodeRecord, Outcome]:
    """One episode with ``act(observations, tokens, mask) -> actions``; record and outcome."""
    env = make_env(scenario, seed)
    try:
        observations = env.reset()
        agents = len(observations)
        mask = np.ones((agents, NUM_ACTIONS), dtype=bool)
        rows: Dict[str, List[np.ndarray]] = {"tokens": [], "action": [], "reward": []}
        done = False
        while not done:
            toks = tokens(observations)
            actions = np.asarray(act(observations, toks, mask), dtype=np.int64)
            if actions.shape != (agents,) or actions.min() < 0 or actions.max() > BUILTIN_AI:
                raise ValueError(f"a policy gave actions {actions.tolist()} for {agents} players")
            observations, reward, done, _ = env.step(actions.tolist())
            rows["tokens"].append(toks)
            rows["action"].append(actions)
            rows["reward"].append(np.broadcast_to(np.asarray(reward, dtype=np.float32),
                                                  (agents,)).copy())
        score = np.asarray(observations[0]["score"])
    finally:
        env.close()
    steps = len(rows["action"])
    flags = np.zeros((steps, agents), dtype=bool)
    flags[-1] = True
    outcome = Outcome(int(score[0]), int(score[1]), steps)
    record = EpisodeRecord(
        episode=0, env_id=ENV_ID, action=np.stack(rows["action"]),
        action_mask=np.ones((steps, agents, NUM_ACTIONS), dtype=bool),
        reward=np.stack(rows["reward"]), done=flags,
        tokens=np.stack(rows["tokens"]).astype(np.float16),
        info={"scenario": scenario, "goals_for": outcome.goals_for,
              "goals_against": outcome.goals_against, "steps": steps})
    return record, outcome


@dataclass(frozen=True)
class FootballConfig:
    seed: int = 0
    #: Scenario names (episode i plays scenario i mod len); default: the paper's four.
    scenarios: Tuple[str, ...] = tuple(SCENARIOS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenarios", tuple(check_scenarios(self.scenarios)))


class FootballGenerator:
    """The ``grf`` environment for :func:`marlgpt_training.data.generate.generate`."""

    name = NAME
    env_id = ENV_ID
    num_actions = NUM_ACTIONS

    def __init__(self, config: FootballConfig = FootballConfig()) -> None:
        self.config = config

    def settings(self) -> dict:
        return dict(asdict(self.config), scenarios=list(self.config.scenarios),
                    expert="scripted", encoder="grf-players-v1")

    def token_layout(self) -> dict:
        return layout()

    def episode(self, index: int, tokens_: bool = True) -> EpisodeRecord:
        scenario = self.config.scenarios[index % len(self.config.scenarios)]
        seed = int(np.random.default_rng([self.config.seed, index]).integers(2**31))
        expert = ScriptedExpert()
        record, outcome = run_episode(scenario, seed, expert)
        record.episode = index
        record.info.update(map_kind=scenario, seed=seed, throughput=float(outcome.win),
                           goals_reached=outcome.goals_for)
        if not tokens_:
            record.tokens = None
        return record


# --- evaluation -----------------------------------------------------------------------------

def wilson(wins: int, n: int, z: float = 1.96) -> Tuple[float, float]:
    """The Wilson score interval of a win rate (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(policy: Callable[[], Act], episodes: int,
             scenarios: Sequence[str] = tuple(SCENARIOS), seed: int = 10_000,
             progress: Optional[Callable[[str, Outcome], None]] = None) -> dict:
    """Win rate (with a 95 % Wilson interval) and goal difference (mean +- 1.96 standard
    errors) per scenario over ``episodes`` seeded episodes, scenarios in turn; ``policy()``
    gives the acting function of each episode."""
    outcomes: Dict[str, List[Outcome]] = {s: [] for s in scenarios}
    for k in range(episodes):
        scenario = scenarios[k % len(scenarios)]
        _, outcome = run_episode(scenario, seed + k, policy())
        outcomes[scenario].append(outcome)
        if progress is not None:
            progress(scenario, outcome)
    report = {}
    for scenario, results in outcomes.items():
        if not results:
            continue
        wins = sum(r.win for r in results)
        difference, half = common.interval([r.goal_difference for r in results])
        low, high = wilson(wins, len(results))
        report[scenario] = {"episodes": len(results), "win_rate": wins / len(results),
                            "win_rate_ci95": [low, high],
                            "goal_difference": difference, "goal_difference_ci95": half,
                            "steps": float(np.mean([r.steps for r in results])),
                            "paper_expert_win_rate": PAPER_WIN_RATES[scenario][0] / 100,
                            "paper_marl_gpt_win_rate": PAPER_WIN_RATES[scenario][1] / 100}
    return report


# --- the registry entry -----------------------------------------------------------------------

def make_generator(settings: dict) -> FootballGenerator:
    return FootballGenerator(FootballConfig(**settings))


def generator_settings(args: argparse.Namespace) -> dict:
    """``marlgpt generate``'s options: the seed, and ``--scenarios`` where given."""
    settings = {"seed": args.seed}
    if args.scenarios is not None:
        settings["scenarios"] = args.scenarios
    return settings


def check_generate(args: argparse.Namespace) -> List[str]:
    return []


def check_eval(args: argparse.Namespace) -> List[str]:
    return common.check_vector_eval(args, game_ai=True)


def run_eval(args: argparse.Namespace) -> dict:
    """``--episodes`` seeded episodes over ``--scenarios`` in turn with ``--policy`` (expert,
    builtin, random or a checkpoint): the table per scenario, beside the paper's, printed and
    returned."""
    from tqdm import tqdm

    try:
        scenarios = check_scenarios(args.scenarios or list(SCENARIOS), "--scenarios")
        rng = np.random.default_rng(0)
        if args.policy == "expert":
            policy = ScriptedExpert  # a new one per episode: it remembers its kicks
        elif args.policy == "builtin":
            def policy():
                return lambda observations, tokens, mask: np.full(len(observations),
                                                                  BUILTIN_AI)
        elif args.policy == "random":
            act = common.random_act(rng)

            def policy():
                return act
        else:
            model = common.model_act(args, NAME, ENCODER)

            def policy():
                return model
        bar = tqdm(total=args.episodes, unit="episode", desc="grf", disable=args.no_progress,
                   dynamic_ncols=True)
        try:
            report = evaluate(policy, args.episodes, scenarios,
                              progress=lambda scenario, outcome: bar.update(1))
        finally:
            bar.close()
    except OSError as exc:
        raise ValueError(str(exc)) from exc
    print(f"grf: {args.policy} over {args.episodes} episodes (95 % intervals; paper: Table 1 of "
          "the MARL-GPT paper, IPPO expert and MARL-GPT)")
    print(f"  {'scenario':<36} {'episodes':>8} {'win rate':>20} {'goal diff':>14} "
          f"{'paper expert':>12} {'paper MARL-GPT':>14}")
    for scenario, row in report.items():
        low, high = row["win_rate_ci95"]
        win = f"{row['win_rate']:.2f} [{low:.2f}, {high:.2f}]"
        diff = f"{row['goal_difference']:+.2f} +- {row['goal_difference_ci95']:.2f}"
        print(f"  {scenario:<36} {row['episodes']:>8} {win:>20} {diff:>14} "
              f"{row['paper_expert_win_rate']:>12.2f} {row['paper_marl_gpt_win_rate']:>14.2f}")
    return common.vector_results(args, {"scenarios": report})
