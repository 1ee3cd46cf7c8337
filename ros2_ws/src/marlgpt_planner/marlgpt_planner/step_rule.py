"""The step rule: how one synchronous step's proposals become the fleet's moves.

Everything that settles a step goes through one :class:`StepRule`: the fleet's lock-step
protocol, the planners' decisions, ``marlgpt eval``, delta data, the node's parameters and
the command line. A rule is a resolution, by name, and the options it reads:

* ``soft``: each agent hands in one action; POGEMA's soft rule
  (:mod:`marlgpt_planner.soft_rule`) cancels the conflicting moves.
* ``shield``: each agent hands in a ranking of its actions (the policy's probabilities,
  optionally weighted by the path length each action leaves, ``path_weight``); PIBT
  (:mod:`marlgpt_planner.shield`) picks a step with no shared cell and no swap, and with
  ``search`` > 1 the rollout search (:mod:`marlgpt_planner.lookahead`) picks among that
  many candidate steps.
* ``sequential``: agents are served one after another in the shield's order, and each is
  asked for its ranking when its turn comes, knowing the cells claimed before it
  (:mod:`marlgpt_planner.sequential`, a learned PIBT; the policy must read encoder version
  3). ``path_weight`` and ``search`` as for the shield; the search's first candidate is the
  sequential step.
* ``central`` (the fleet only): a fleet computer plans every step with the expert
  (:mod:`marlgpt_planner.coordinator`) and each robot's ranking leads with its planned move
  (:mod:`marlgpt_planner.central`); the step is settled as the shield settles it, which
  gives exactly the plan when every robot follows it. A robot whose plan did not come in
  time ranks by its model, so the fleet goes on without the coordinator; the rollout
  search runs only on steps no robot follows a plan in.

Every resolution takes ``rotations``: whether three or more agents may move round a ring in
one step, as POGEMA allows (the default), or not, as real robots need
(:mod:`marlgpt_planner.rotations`).

Both parts of a step are here: :meth:`StepRule.choose` turns a policy's logits into what an
agent hands in (one action, or a ranking), and :meth:`StepRule.settle` turns what every
agent handed in into the next cells. Adding a resolution means a module beside
``shield.py`` and one :data:`RESOLUTIONS` entry. Every planner of a fleet computes the same
step from the same inputs; :meth:`StepRule.agreement` names what they must share for it.
Pure numpy, Python >= 3.8.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS, WAIT
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.lookahead import Search, search_step
from marlgpt_planner.rankings import choose, masked, path_weighted, rank, ranking_scores
from marlgpt_planner.rotations import without_rotations
from marlgpt_planner.sequential import Decide, sequential_step
from marlgpt_planner.shield import shield
from marlgpt_planner.soft_rule import resolve

SOFT, SHIELD, SEQUENTIAL, CENTRAL = "soft", "shield", "sequential", "central"
#: The mark of a rule that bans rotations, joined to the resolution's name in the agreement
#: (``shield+no-rotations``): a planner that compares only the names sees another resolution
#: and holds, as it must.
NO_ROTATIONS = "+no-rotations"
Rankings = List[List[int]]


class Settling(NamedTuple):
    """One step's inputs, as every resolution reads them; rows are agents."""

    positions: np.ndarray  # (N, 2) distinct cells at the start of the step
    rankings: Sequence[Sequence[int]]  # per agent, its actions best first (soft: the first)
    ages: Sequence[float]  # per agent, steps since its goal changed (PIBT's priority)
    goals: Optional[np.ndarray]  # (N, 2): the search's rollouts head there
    fields: Optional[DistanceFields]  # the grid; None: no search
    obstacles: Optional[np.ndarray]  # (H, W) bool: the soft rule cancels moves onto them
    seed: int  # the step number: the search's jitter
    decide: Optional[Decide] = None  # sequential: the policy, asked in turn
    radius: int = 0  # sequential: the policy's field of view


def _settle_soft(rule: "StepRule", step: Settling) -> np.ndarray:
    positions = np.asarray(step.positions, dtype=np.int64).reshape(-1, 2)
    first = np.array([int(r[0]) if len(r) else WAIT for r in step.rankings], dtype=np.int64)
    after, _ = resolve(positions, positions + DELTAS[first], step.obstacles)
    return after if rule.rotations else without_rotations(positions, after)


def _settle_shield(rule: "StepRule", step: Settling) -> np.ndarray:
    if rule.search > 1 and step.fields is not None:
        if step.goals is None:
            raise ValueError("the rollout search needs every agent's goal")
        return search_step(step.fields, step.positions, step.goals, step.rankings, step.ages,
                           step.seed, rule.searching())
    return shield(step.positions, step.rankings, step.ages, rule.rotations)


def _settle_sequential(rule: "StepRule", step: Settling) -> np.ndarray:
    if step.decide is None:
        raise ValueError("the sequential resolution asks the policy in turn: settle() needs "
                         "decide=")
    first, ledger = sequential_step(step.positions, step.ages, step.decide, step.radius,
                                    rule.rotations)
    if rule.search > 1 and step.fields is not None:
        if step.goals is None:
            raise ValueError("the rollout search needs every agent's goal")
        return search_step(step.fields, step.positions, step.goals, ledger.rankings,
                           step.ages, step.seed, rule.searching(), first=first)
    return first


class Resolution(NamedTuple):
    """One way of settling a step (an entry of :data:`RESOLUTIONS`)."""

    name: str
    #: What it does, for --help texts and docs.
    summary: str
    #: Agents hand in rankings of their actions (else one action each).
    ranks: bool
    #: The :class:`StepRule` options it reads besides its name.
    options: Tuple[str, ...]
    settle: Callable[["StepRule", Settling], np.ndarray]
    #: The policy is asked in turn, knowing earlier claims (settle() needs ``decide``), by
    #: a model of this encoder version or later.
    in_turn: bool = False
    min_encoder_version: int = 1
    #: A fleet computer's plan leads the rankings (fleet_protocol.resolution only: a run
    #: without the fleet coordinator has no plan; ``marlgpt eval --policy expert`` plays the
    #: coordinator's steps).
    planned: bool = False


RESOLUTIONS: Dict[str, Resolution] = {r.name: r for r in (
    Resolution(SOFT, "each agent's action; POGEMA's soft rule makes the losers of a conflict "
               "wait", False, (), _settle_soft),
    Resolution(SHIELD, "PIBT over every agent's ranking of its actions, priority to the "
               "oldest goal; no shared cells, no swaps", True, ("path_weight", "search"),
               _settle_shield),
    Resolution(SEQUENTIAL, "agents served in PIBT's order, each ranking its actions knowing "
               "the cells claimed before it (a learned PIBT; encoder v3 models)", True,
               ("path_weight", "search"), _settle_sequential, in_turn=True,
               min_encoder_version=3),
    Resolution(CENTRAL, "a fleet computer plans each step with the expert; rankings lead with "
               "the plan, settled as by the shield (fleet only)", True,
               ("path_weight", "search"), _settle_shield, planned=True),
)}

#: What each option does, for the message refusing it under a resolution that ignores it.
_OPTION_TEXT = {"path_weight": "a path weight only shapes rankings of actions",
                "search": "the rollout search only chooses among settled steps"}


@dataclass(frozen=True)
class StepRule:
    """How a step is settled: a resolution by name and the options it reads (see the module
    doc). Checked when made: a bad value raises ValueError saying what is allowed.

    Args:
        resolution: a name in :data:`RESOLUTIONS`.
        path_weight: shield: weight of the path length each action leaves in the rankings
            (0: the policy alone).
        search: shield: candidate steps of the rollout search (1: the plain shielded step).
        rotations: whether three or more agents may move round a ring in one step (POGEMA:
            yes; real robots: no, :mod:`marlgpt_planner.rotations`).
    """

    resolution: str = SOFT
    path_weight: float = 0.0
    search: int = 1
    rotations: bool = True

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> Optional[str]:
        """What is wrong with this rule, or None."""
        if self.resolution not in RESOLUTIONS:
            return (f"resolution must be one of {', '.join(RESOLUTIONS)}, "
                    f"got {self.resolution!r}")
        if self.search < 1:
            return f"search needs at least 1 candidate, got {self.search}"
        if self.path_weight < 0:
            return f"the path weight must be >= 0, got {self.path_weight}"
        used = {"path_weight": bool(self.path_weight), "search": self.search > 1}
        for option, text in _OPTION_TEXT.items():
            if used[option] and option not in self.mode.options:
                readers = [r.name for r in RESOLUTIONS.values()
                           if option in r.options and not r.planned]
                return f"{text} (--resolution {' or '.join(readers)})"
        return None

    @classmethod
    def lenient(cls, resolution: str, path_weight: float = 0.0, search: int = 1,
                rotations: bool = True) -> "StepRule":
        """The rule, with the options ``resolution`` does not read dropped (the node's
        parameters carry defaults for every resolution)."""
        options = RESOLUTIONS[resolution].options if resolution in RESOLUTIONS else ()
        return cls(resolution, path_weight if "path_weight" in options else 0.0,
                   search if "search" in options else 1, rotations)

    @property
    def mode(self) -> Resolution:
        return RESOLUTIONS[self.resolution]

    @property
    def ranks(self) -> bool:
        """Agents hand in rankings of their actions, not one action each."""
        return self.mode.ranks

    @property
    def in_turn(self) -> bool:
        """The policy is asked agent by agent during the step (settle() needs ``decide``)."""
        return self.mode.in_turn

    def refuse_model(self, version: int, model: str) -> None:
        """ValueError in one line when a model of encoder ``version`` cannot act under this
        rule (the sequential resolution needs the claim tokens of version 3)."""
        needed = self.mode.min_encoder_version
        if version < needed:
            raise ValueError(f"{model} reads encoder v{version}, without the claim tokens "
                             f"--resolution {self.resolution} needs (v{needed}); train one on "
                             f"data from 'marlgpt generate --claims', or use shield or soft")

    @property
    def planned(self) -> bool:
        """The fleet coordinator's plan leads the rankings (``central``)."""
        return self.mode.planned

    @property
    def searches(self) -> bool:
        return self.search > 1

    def searching(self) -> Search:
        """The rollout search's settings under this rule."""
        return Search(candidates=self.search, rotations=self.rotations)

    def agreement(self) -> str:
        """What every planner of a fleet must share to settle steps alike (the resolution, the
        search and a ban on rotations; the path weight only shapes a planner's own robots'
        rankings): ``shield/search=16``, ``shield+no-rotations/search=16``."""
        name = self.resolution + ("" if self.rotations else NO_ROTATIONS)
        return name + (f"/search={self.search}" if self.searches else "")

    def settles_unlike(self, agreement: str) -> bool:
        """Whether a planner naming ``agreement`` (another's :meth:`agreement`; '' if it names
        none) settles steps by another resolution than this rule, or bans rotations where this
        rule allows them or the other way round: the two could settle one step differently."""
        return bool(agreement) and agreement.split("/")[0] != self.agreement().split("/")[0]

    def label(self) -> str:
        """A short description for tables: ``shield, path 0.5, search 16`` ('' for soft;
        ``no rotations`` added where they are banned)."""
        extras = [self.resolution] if self.ranks or not self.rotations else []
        if self.path_weight:
            extras.append(f"path {self.path_weight:g}")
        if self.searches:
            extras.append(f"search {self.search}")
        if not self.rotations:
            extras.append("no rotations")
        return ", ".join(extras)

    # --- the agents' side ---------------------------------------------------------------------
    def rank(self, scores: np.ndarray, action_mask: Optional[np.ndarray] = None,
             path_left: Optional[np.ndarray] = None) -> Rankings:
        """Rankings from per-action preference scores (N, 5) that are already the policy's
        order (a scripted policy's, or sampled log-probabilities): weighted by the path
        length each action leaves, masked actions left out."""
        return rank(masked(path_weighted(scores, path_left, self.path_weight), action_mask))

    def choose(self, logits: np.ndarray, action_mask: Optional[np.ndarray], sample: bool,
               rng: Optional[np.random.Generator],
               path_left: Optional[np.ndarray] = None) -> Rankings:
        """What each agent hands in, from a model's ``logits`` (N, 5): a ranking of its
        allowed actions (greedy by probability or drawn from the policy, weighted by
        ``path_left`` when the rule has a path weight), or, under a rule that does not rank,
        its one chosen action."""
        if not self.ranks:
            return [[int(a)] for a in choose(logits, action_mask, sample, rng)]
        return rank(ranking_scores(logits, action_mask, sample, rng, path_left,
                                   self.path_weight))

    # --- the step -----------------------------------------------------------------------------
    def settle(self, positions: np.ndarray, rankings: Sequence[Sequence[int]],
               ages: Sequence[float], goals: Optional[np.ndarray] = None,
               fields: Optional[DistanceFields] = None,
               obstacles: Optional[np.ndarray] = None, seed: int = 0,
               decide: Optional[Decide] = None, radius: int = 0) -> np.ndarray:
        """Next cells (N, 2) of one step: no two agents in one cell, no swaps.

        Args:
            positions: (N, 2) distinct cells.
            rankings: per agent, its actions best first (a rule that does not rank reads the
                first; an empty ranking waits).
            ages: per agent, steps since its goal changed (the shield's priority).
            goals: (N, 2) goals, which the search rolls out toward.
            fields: the grid's distance fields; the search runs only when given (every
                planner must search on the same grid).
            obstacles: the soft rule cancels moves onto these (None: no check).
            seed: the step number, which seeds the search's jitter.
            decide: a rule that asks in turn (:attr:`in_turn`): the policy, asked for
                rankings in context (:data:`marlgpt_planner.sequential.Decide`); ``rankings``
                is then not read.
            radius: with ``decide``, the policy's field of view.
        """
        goals = None if goals is None else np.asarray(goals, dtype=np.int64).reshape(-1, 2)
        return self.mode.settle(self, Settling(np.asarray(positions, dtype=np.int64)
                                               .reshape(-1, 2), rankings, ages, goals,
                                               fields, obstacles, seed, decide, radius))


#: The soft rule, no options: POGEMA's own semantics, and every rule argument's default.
SOFT_RULE = StepRule(SOFT)


def names(fleet: bool = True) -> List[str]:
    """The resolutions' names, for --help and parameter checks (``fleet=False``: those a run
    without the fleet coordinator can use, as ``marlgpt eval``)."""
    return [name for name, mode in RESOLUTIONS.items() if fleet or not mode.planned]
