"""The one observation encoder: grid state -> MARL-GPT tokens (pure numpy, Python >= 3.8).

Data generation, training, benchmark evaluation and the ROS node all call :class:`Encoder`.
Following the MARL-GPT paper (section 4.2, appendix A), every token is one scalar ``value``
plus four indices: ``attr`` (which feature), ``team`` (0 the deciding agent, 1 its
neighbours), ``agent`` (0 the deciding agent, 1..K neighbours by distance) and ``time``
(0 now, t = t steps ago). The indices depend only on the layout, so they are built once;
per step the encoder fills the values.

Layout ``pogema-ctg`` version 1, for an agent at cell c with goal g (docs/encoder.md lists
every token; ``python -m marlgpt_planner.encoder`` prints that table):

* cost-to-go window: for each cell of the (2r+1)^2 square around c, row-major, the BFS
  distance to g relative to c's own, ``clip(d(cell) - d(c), -2r, 2r) / 2r``; cells that are
  obstacles, outside the map or cut off from g read ``BLOCKED``;
* the deciding agent: which of up/down/left/right shortens its path (1/0), its goal offset
  ``clip((g - c) / 32, -1, 1)`` per axis, its goal distance ``log1p(d) / log1p(256)``
  (capped at 1), and its last ``history`` moves as (d_row, d_col) with time 1..history;
* up to K nearest other agents within the square (Manhattan distance, ties row-major):
  offset (d_row, d_col) / r, which of their moves shorten their own path, and their last
  move; empty slots read ``ABSENT`` in every token.

Version 2 (``ages=True``) adds the goal ages PIBT ranks agents by (steps since an agent's goal
last changed): the deciding agent's ``log1p(age) / log1p(256)`` (capped at 1) and, per
neighbour, ``clip((its age - own age) / 8, -1, 1)``, positive when the neighbour outranks it.
A decentralized policy cannot otherwise tell which of two robots facing each other should
give way, while its expert (and the fleet's shield) settle exactly that by these ages.

Version 3 (``claims=True``, with the ages) adds what the robots served before this one have
already decided in the step under way: the sequential resolution
(:mod:`marlgpt_planner.sequential`) serves robots one after another and asks the policy of
each, when its turn comes, knowing the cells claimed before it. Per action,
``claimed[a]`` is 1 where that action's cell is claimed by a robot served earlier (or taking
it would swap places with one); ``claimed[wait]`` is 1 when a robot has claimed this robot's own
cell, and ``pusher`` is that robot's offset (0, 0 when nobody pushes). Per neighbour slot,
``served`` (1/0) and, once served, its claimed next cell relative to the deciding agent, / r
(``ABSENT`` before). :meth:`Encoder.encode` writes a state in which nobody has decided yet;
:meth:`Encoder.claim_values` writes the claim tokens of a moment of the step.
"""
import hashlib
from typing import List, Mapping, NamedTuple, Optional

import numpy as np

from marlgpt_planner.actions import DELTAS, NUM_ACTIONS
from marlgpt_planner.grid import UNREACHABLE, DistanceFields, neighbour_distances

ENCODER_NAME = "pogema-ctg"
ENCODER_VERSION = 1
#: The version of the layout with goal ages (``Encoder(..., ages=True)``).
ENCODER_VERSION_AGES = 2
#: The version with goal ages and the step's claims (``Encoder(..., claims=True)``).
ENCODER_VERSION_CLAIMS = 3
VERSIONS = (ENCODER_VERSION, ENCODER_VERSION_AGES, ENCODER_VERSION_CLAIMS)

#: Value of a cost-to-go cell that is an obstacle, outside the map or cut off from the goal.
BLOCKED = 2.0
#: Value of every token of an empty neighbour slot.
ABSENT = -2.0
#: Scale of the goal offset tokens (cells); offsets beyond it read +-1.
GOAL_OFFSET_SCALE = 32.0
#: Goal distances at or beyond this read 1.
GOAL_DISTANCE_CAP = 256.0
#: Goal ages at or beyond this read 1.
GOAL_AGE_CAP = 256.0
#: Scale of a neighbour's age lead (steps); leads beyond it read +-1.
AGE_LEAD_SCALE = 8.0

TEAM_SELF, TEAM_NEIGHBOUR = 0, 1
MOVE_NAMES = ("up", "down", "left", "right")


class TokenSpec(NamedTuple):
    """What one token position holds."""

    name: str
    attr: int
    team: int
    agent: int
    time: int


class GridState(NamedTuple):
    """Everything the encoder reads, for N agents on one grid.

    ``history[i, t]`` is the action that agent i's last move amounted to, t + 1 steps ago
    (``0`` wait where unknown): the move actually made, which every robot can observe.
    ``ages[i]`` is the number of steps agent i has held its current goal (0 on the step it
    got it), as :class:`marlgpt_planner.shield.GoalAges` counts; only version 2 reads it.
    """

    positions: np.ndarray  # (N, 2) int: row, col
    goals: np.ndarray  # (N, 2) int: row, col
    history: np.ndarray  # (N, H) int: POGEMA actions, most recent first
    ages: Optional[np.ndarray] = None  # (N,) int: steps since each goal was set


class Observation(NamedTuple):
    values: np.ndarray  # (N, T) float32
    action_mask: np.ndarray  # (N, 5) bool: actions that do not run into an obstacle or the edge


class Encoder:
    """Encodes :class:`GridState` into token values on one map.

    Args:
        obstacles: (H, W) bool obstacle array of the map.
        radius: half-size r of the observed square ((2r+1)^2 cells); 5 as in POGEMA's benchmark.
        history: number of past moves of the deciding agent in the tokens.
        neighbours: K, the number of other agents encoded.
        fields: an existing :class:`DistanceFields` of the same map to share its cache
            (its pad must be at least ``radius``).
        ages: the version 2 layout, with goal ages (the state must carry ``ages``).
        claims: the version 3 layout: goal ages and the step's claims (implies ``ages``).
    """

    def __init__(self, obstacles: np.ndarray, radius: int = 5, history: int = 3,
                 neighbours: int = 8, fields: Optional[DistanceFields] = None,
                 ages: bool = False, claims: bool = False) -> None:
        if radius < 1 or history < 1 or neighbours < 0:
            raise ValueError("need radius >= 1, history >= 1 and neighbours >= 0")
        self.radius, self.history, self.neighbours = int(radius), int(history), int(neighbours)
        self.claims = bool(claims)
        self.ages = bool(ages) or self.claims
        if fields is None:
            fields = DistanceFields(obstacles, pad=radius)
        elif fields.pad < radius or fields.obstacles.shape != np.shape(obstacles):
            raise ValueError("shared DistanceFields must cover the same map with pad >= radius")
        self.fields = fields
        self.specs = layout(radius, history, neighbours, self.ages, self.claims)
        self.num_tokens = len(self.specs)
        self.indices = {key: np.array([getattr(s, key) for s in self.specs], dtype=np.int32)
                        for key in ("attr", "team", "agent", "time")}
        self._window = 2 * radius + 1
        self._ctg_scale = float(2 * radius)
        self._ego_start = self._window ** 2
        self._nb_start = self._ego_start + 4 + 3 + 2 * history + int(self.ages)
        #: Where the claim tokens start (version 3; the layout's end otherwise).
        self.claims_start = self._nb_start + neighbours * (8 + int(self.ages))

    @classmethod
    def from_layout(cls, obstacles: np.ndarray, layout: Mapping,
                    fields: Optional[DistanceFields] = None) -> "Encoder":
        """The encoder a model's recorded layout asks for (a model file's metadata or a
        dataset's ``token_layout``: ``encoder``, ``encoder_version``, ``radius``, ``history``,
        ``neighbours``); ValueError for a layout this encoder does not write."""
        name, version = layout.get("encoder"), int(layout.get("encoder_version", 0))
        if name != ENCODER_NAME or version not in VERSIONS:
            raise ValueError(f"the model reads encoder {name} v{version}; this encoder writes "
                             f"{ENCODER_NAME} v{', v'.join(map(str, VERSIONS))}")
        return cls(obstacles, int(layout["radius"]), int(layout["history"]),
                   int(layout["neighbours"]), fields=fields,
                   ages=version >= ENCODER_VERSION_AGES,
                   claims=version == ENCODER_VERSION_CLAIMS)

    @property
    def version(self) -> int:
        if self.claims:
            return ENCODER_VERSION_CLAIMS
        return ENCODER_VERSION_AGES if self.ages else ENCODER_VERSION

    @property
    def metadata(self) -> dict:
        """What a model file must match to be fed by this encoder."""
        return {"encoder": ENCODER_NAME, "encoder_version": self.version,
                "radius": self.radius, "history": self.history, "neighbours": self.neighbours,
                "num_tokens": self.num_tokens, "num_actions": NUM_ACTIONS}

    @property
    def layout_digest(self) -> str:
        """SHA-256 of the token layout (every position's name and indices)."""
        return layout_digest(self.radius, self.history, self.neighbours, self.ages, self.claims)

    def encode(self, state: GridState) -> Observation:
        """Token values for every agent of ``state`` (one row per agent)."""
        positions = np.asarray(state.positions, dtype=np.int64).reshape(-1, 2)
        goals = np.asarray(state.goals, dtype=np.int64).reshape(-1, 2)
        history = np.asarray(state.history, dtype=np.int64).reshape(len(positions), -1)
        n, r, w = len(positions), self.radius, self._window
        if len(goals) != n:
            raise ValueError(f"{n} positions but {len(goals)} goals")
        if history.shape[1] < self.history:
            raise ValueError(f"history has {history.shape[1]} steps, "
                             f"the encoder needs {self.history}")
        ages = None
        if self.ages:
            if state.ages is None:
                raise ValueError("this encoder (version 2) needs the goal ages in the state")
            ages = np.asarray(state.ages, dtype=np.float64).reshape(-1)
            if len(ages) != n:
                raise ValueError(f"{n} positions but {len(ages)} goal ages")
        height, width = self.fields.shape
        if n and (positions.min() < 0 or (positions >= (height, width)).any()):
            raise ValueError("an agent position lies outside the map")
        values = np.empty((n, self.num_tokens), dtype=np.float32)

        # Cost-to-go windows: each agent's own goal field, sliced around it.
        windows = np.empty((n, w, w), dtype=np.int64)
        for i, (row, col) in enumerate(positions.tolist()):
            windows[i] = self.fields.padded(goals[i])[row:row + w, col:col + w]
        centre = windows[:, r, r][:, None, None]
        blocked = windows >= UNREACHABLE
        rel = np.clip(windows - centre, -self._ctg_scale, self._ctg_scale) / self._ctg_scale
        values[:, :self._ego_start] = np.where(blocked, BLOCKED, rel).reshape(n, -1)

        # Which moves shorten each agent's path, and which actions stay on the map.
        dist5 = neighbour_distances(self.fields, positions, goals)
        shortens = (dist5[:, 1:] < dist5[:, :1]).astype(np.float32)
        action_mask = self.fields.free_moves(positions)
        moves = DELTAS[history[:, :self.history]].astype(np.float32)  # (N, H, 2)

        e = self._ego_start
        values[:, e:e + 4] = shortens
        offset = np.clip((goals - positions) / GOAL_OFFSET_SCALE, -1.0, 1.0)
        values[:, e + 4:e + 6] = offset
        own = np.minimum(dist5[:, 0], GOAL_DISTANCE_CAP)
        values[:, e + 6] = np.log1p(own) / np.log1p(GOAL_DISTANCE_CAP)
        values[:, e + 7:e + 7 + 2 * self.history] = moves.reshape(n, -1)
        if ages is not None:
            values[:, self._nb_start - 1] = (np.log1p(np.clip(ages, 0, GOAL_AGE_CAP))
                                             / np.log1p(GOAL_AGE_CAP))

        if self.neighbours:
            values[:, self._nb_start:self.claims_start] = self._neighbour_values(
                positions, shortens, moves, ages)
        if self.claims:
            nobody = np.zeros((n, n), dtype=bool)
            values[:, self.claims_start:] = self.claim_values(positions, np.arange(n),
                                                              positions, nobody)
        return Observation(values=values, action_mask=action_mask)

    def claim_values(self, positions: np.ndarray, rows: np.ndarray, next_cells: np.ndarray,
                     known: np.ndarray) -> np.ndarray:
        """The claim tokens (version 3) of agents ``rows`` at one moment of a step: ``known``
        (R, N) says which agents' ``next_cells`` (N, 2) row r sees as already claimed (the
        robots served before it); returns (R, C) float32, the values after
        :attr:`claims_start`."""
        if not self.claims:
            raise ValueError("claim tokens are part of the version 3 layout (claims=True)")
        positions = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
        next_cells = np.asarray(next_cells, dtype=np.int64).reshape(-1, 2)
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        known = np.array(known, dtype=bool).reshape(len(rows), len(positions))
        known[np.arange(len(rows)), rows] = False  # nobody sees its own claim as another's
        r, k = self.radius, self.neighbours
        own = positions[rows]  # (R, 2)
        targets = own[:, None, :] + DELTAS[None, :, :]  # (R, 5, 2)
        claimed = ((next_cells[None, None] == targets[:, :, None]).all(axis=3)
                   & known[:, None, :])  # (R, 5, N): a known agent claimed that action's cell
        into_me = (next_cells[None] == own[:, None]).all(axis=2) & known  # (R, N)
        occupant = (positions[None, None] == targets[:, :, None]).all(axis=3)  # (R, 5, N)
        swap = (occupant & into_me[:, None, :]).any(axis=2)
        out = np.full((len(rows), 7 + 3 * k), ABSENT, dtype=np.float32)
        out[:, :NUM_ACTIONS] = claimed.any(axis=2) | swap
        pushed = into_me.any(axis=1)
        pusher = np.argmax(into_me, axis=1)
        out[:, 5:7] = np.where(pushed[:, None], positions[pusher] - own, 0)
        if k and len(positions) > 1:
            order, present = neighbour_order(positions, r, k)
            order, present = order[rows], present[rows]  # (R, take)
            take = order.shape[1]
            served = np.take_along_axis(known, order, axis=1)
            claim = (next_cells[order] - own[:, None, :]) / float(r)  # (R, take, 2)
            block = np.concatenate([served[:, :, None].astype(np.float32),
                                    np.where(served[:, :, None], claim, ABSENT)], axis=2)
            block = np.where(present[:, :, None], block, ABSENT)
            out[:, 7:7 + 3 * take] = block.reshape(len(rows), -1)
        return out

    def _neighbour_values(self, positions: np.ndarray, shortens: np.ndarray,
                          moves: np.ndarray, ages: Optional[np.ndarray]) -> np.ndarray:
        n, r, k = len(positions), self.radius, self.neighbours
        per = 8 + int(ages is not None)
        out = np.full((n, k, per), ABSENT, dtype=np.float32)
        if n < 2:
            return out.reshape(n, -1)
        order, present = neighbour_order(positions, r, k)
        take = order.shape[1]
        offsets = positions[None, :, :] - positions[:, None, :]  # (N, N, 2): j relative to i
        rel = np.take_along_axis(offsets, order[:, :, None], axis=1) / float(r)
        parts = [rel, shortens[order], moves[order, 0, :]]
        if ages is not None:
            lead = (ages[order] - ages[:, None]) / AGE_LEAD_SCALE
            parts.append(np.clip(lead, -1.0, 1.0)[:, :, None])
        block = np.concatenate(parts, axis=2)
        out[:, :take] = np.where(present[:, :, None], block, ABSENT)
        return out.reshape(n, -1)


def neighbour_order(positions: np.ndarray, radius: int, neighbours: int
                    ) -> "tuple[np.ndarray, np.ndarray]":
    """Each agent's neighbour slots: (order (N, take), present (N, take)), the other agents
    within ``radius`` (Chebyshev), nearest first by Manhattan distance, ties row-major in the
    window; ``take`` = min(neighbours, N - 1), slots past the visible agents not present."""
    n, r = len(positions), radius
    offsets = positions[None, :, :] - positions[:, None, :]  # (N, N, 2): j relative to i
    visible = (np.abs(offsets).max(axis=2) <= r)
    np.fill_diagonal(visible, False)
    side = 2 * r + 1
    # Manhattan distance first, then row-major position in the window: a total order.
    key = (np.abs(offsets).sum(axis=2) * side * side
           + (offsets[:, :, 0] + r) * side + (offsets[:, :, 1] + r))
    key = np.where(visible, key, np.iinfo(np.int64).max)
    take = max(0, min(neighbours, n - 1))
    order = np.argsort(key, axis=1, kind="stable")[:, :take]  # (N, take)
    return order, np.take_along_axis(visible, order, axis=1)


def layout(radius: int, history: int, neighbours: int, ages: bool = False,
           claims: bool = False) -> List[TokenSpec]:
    """The token layout: one :class:`TokenSpec` per position, in order (``ages``: version 2;
    ``claims``: version 3, which has the ages too)."""
    ages = ages or claims
    specs: List[TokenSpec] = []
    side = 2 * radius + 1
    for d_row in range(-radius, radius + 1):
        for d_col in range(-radius, radius + 1):
            attr = (d_row + radius) * side + (d_col + radius)
            specs.append(TokenSpec(f"ctg[{d_row:+d},{d_col:+d}]", attr, TEAM_SELF, 0, 0))
    base = side * side
    attr_shortens = [base + i for i in range(4)]
    attr_goal_row, attr_goal_col, attr_goal_dist = base + 4, base + 5, base + 6
    attr_move_row, attr_move_col = base + 7, base + 8
    attr_rel_row, attr_rel_col = base + 9, base + 10
    attr_goal_age, attr_age_lead = base + 11, base + 12
    for name, attr in zip(MOVE_NAMES, attr_shortens):
        specs.append(TokenSpec(f"shortens[{name}]", attr, TEAM_SELF, 0, 0))
    specs.append(TokenSpec("goal_offset[row]", attr_goal_row, TEAM_SELF, 0, 0))
    specs.append(TokenSpec("goal_offset[col]", attr_goal_col, TEAM_SELF, 0, 0))
    specs.append(TokenSpec("goal_distance", attr_goal_dist, TEAM_SELF, 0, 0))
    for t in range(1, history + 1):
        specs.append(TokenSpec("move[row]", attr_move_row, TEAM_SELF, 0, t))
        specs.append(TokenSpec("move[col]", attr_move_col, TEAM_SELF, 0, t))
    if ages:
        specs.append(TokenSpec("goal_age", attr_goal_age, TEAM_SELF, 0, 0))
    for j in range(1, neighbours + 1):
        specs.append(TokenSpec("offset[row]", attr_rel_row, TEAM_NEIGHBOUR, j, 0))
        specs.append(TokenSpec("offset[col]", attr_rel_col, TEAM_NEIGHBOUR, j, 0))
        for name, attr in zip(MOVE_NAMES, attr_shortens):
            specs.append(TokenSpec(f"shortens[{name}]", attr, TEAM_NEIGHBOUR, j, 0))
        specs.append(TokenSpec("move[row]", attr_move_row, TEAM_NEIGHBOUR, j, 1))
        specs.append(TokenSpec("move[col]", attr_move_col, TEAM_NEIGHBOUR, j, 1))
        if ages:
            specs.append(TokenSpec("age_lead", attr_age_lead, TEAM_NEIGHBOUR, j, 0))
    if claims:
        attr_claimed = [base + 13 + a for a in range(NUM_ACTIONS)]
        attr_pusher_row, attr_pusher_col = base + 18, base + 19
        attr_served, attr_claim_row, attr_claim_col = base + 20, base + 21, base + 22
        for name, attr in zip(("wait",) + MOVE_NAMES, attr_claimed):
            specs.append(TokenSpec(f"claimed[{name}]", attr, TEAM_SELF, 0, 0))
        specs.append(TokenSpec("pusher[row]", attr_pusher_row, TEAM_SELF, 0, 0))
        specs.append(TokenSpec("pusher[col]", attr_pusher_col, TEAM_SELF, 0, 0))
        for j in range(1, neighbours + 1):
            specs.append(TokenSpec("served", attr_served, TEAM_NEIGHBOUR, j, 0))
            specs.append(TokenSpec("claim[row]", attr_claim_row, TEAM_NEIGHBOUR, j, 0))
            specs.append(TokenSpec("claim[col]", attr_claim_col, TEAM_NEIGHBOUR, j, 0))
    return specs


def layout_digest(radius: int, history: int, neighbours: int, ages: bool = False,
                  claims: bool = False) -> str:
    """SHA-256 of the layout: a model and an encoder agree on it or the model reads garbage."""
    text = ";".join(f"{s.name},{s.attr},{s.team},{s.agent},{s.time}"
                    for s in layout(radius, history, neighbours, ages, claims))
    return hashlib.sha256((ENCODER_NAME + ":" + text).encode()).hexdigest()


def markdown_table(radius: int = 5, history: int = 3, neighbours: int = 8) -> str:
    """The layout as a Markdown table, one row per token position (ranges for repeats)."""
    specs = layout(radius, history, neighbours)
    lines = ["| positions | token | attr | team | agent | time |",
             "| --- | --- | --- | --- | --- | --- |"]
    side = 2 * radius + 1
    last = side * side - 1
    lines.append(f"| 0-{last} | ctg[d_row,d_col], d_row and d_col in -{radius}..+{radius}, "
                 f"row-major | 0-{last} | 0 | 0 | 0 |")
    for index, spec in enumerate(specs[side * side:], start=side * side):
        lines.append(f"| {index} | {spec.name} | {spec.attr} | {spec.team} | {spec.agent} "
                     f"| {spec.time} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(f"Layout {ENCODER_NAME} v{ENCODER_VERSION}, radius 5, history 3, 8 neighbours:\n")
    print(markdown_table())
