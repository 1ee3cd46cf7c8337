"""The sequential resolution: a learned PIBT, in which the policy decides who gives way.

The collision shield (:mod:`marlgpt_planner.shield`) reads rankings made before the step,
blind to what the other agents will do. Here agents are served one after another in the
shield's priority order (oldest goal first, ties by agent number) with PIBT's inheritance (an
agent whose cell is claimed by the one being served is served next and must leave it), and
each agent's ranking is asked for *when its turn comes*, knowing the cells already claimed for
this step by the agents served before it and whether, and by whom, it is pushed (the encoder's
version 3 claim tokens, :meth:`marlgpt_planner.encoder.Encoder.claim_values`). The agent takes
the first action of its ranking whose cell is free and that is no swap; if that pushes an agent
that cannot leave, it tries its next one, and with none left it stays. No two agents end in
one cell and none swap, by construction; :func:`check_step` refuses any step that would.

Asking the policy agent by agent costs one model call per agent. The calls are batched
without changing any decision: an agent's claim tokens depend only on the agents within
``radius + 1`` of it, so when one agent must be asked, every agent not yet asked whose
neighbourhood holds no agent still to be served (or whose move is still open, up the chain of
pushes) is asked in the same call, its tokens being final already. Each agent is asked once:
rows per step equal the agent count, as for the shield, and :class:`Ledger` counts the calls.

With a ranking that ignores the claims (plain PIBT's, a policy of an older layout) the step
is exactly the shield's. Pure Python + numpy, Python >= 3.8.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS, NUM_ACTIONS
from marlgpt_planner.encoder import Encoder, Observation
from marlgpt_planner.rankings import clean_ranking
from marlgpt_planner.rotations import closes_rotation, rings

Cell = Tuple[int, int]
#: ``decide(rows, next_cells, known) -> rankings``: the rankings of agents ``rows`` at one
#: moment of the step; ``known`` (R, N) says which agents' ``next_cells`` (N, 2) each row sees
#: as claimed (see :meth:`marlgpt_planner.encoder.Encoder.claim_values`).
Decide = Callable[[Sequence[int], np.ndarray, np.ndarray], List[List[int]]]


class Ledger(NamedTuple):
    """What one sequential step cost: policy calls, rows asked, the serve order and each
    agent's ranking as it was decided (the search reuses them)."""

    calls: int
    rows: int
    order: List[int]
    rankings: List[List[int]]


def sequential_step(positions: np.ndarray, ages: Sequence[float], decide: Decide,
                    radius: int, rotations: bool = True) -> Tuple[np.ndarray, Ledger]:
    """Next cells (N, 2) of one sequential step, and its :class:`Ledger`.

    Args:
        positions: (N, 2) distinct cells.
        ages: per agent, steps since its goal changed; higher is served first.
        decide: the policy, asked for agents' rankings in context (see :data:`Decide`).
        radius: the policy's field of view (Chebyshev), which bounds what its claim tokens
            read; batching relies on it.
        rotations: whether three or more agents may move round a ring in one step
            (:mod:`marlgpt_planner.rotations`).
    """
    pos = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    cells = [(int(r), int(c)) for r, c in pos.tolist()]
    n = len(cells)
    if len(ages) != n:
        raise ValueError(f"{n} positions but {len(ages)} ages")
    occupant: Dict[Cell, int] = {cell: i for i, cell in enumerate(cells)}
    if len(occupant) != n:
        raise ValueError("two agents start on the same cell")
    near = (np.abs(pos[:, None, :] - pos[None, :, :]).max(axis=2) <= radius + 1)
    np.fill_diagonal(near, False)
    deltas = DELTAS.tolist()
    nxt: List[Optional[Cell]] = [None] * n
    claimed = np.zeros((n, 2), dtype=np.int64)  # nxt as an array, for the encoder
    reserved: Dict[Cell, int] = {}
    open_ = np.ones(n, dtype=bool)  # not served, or served with its move still open
    asked: Dict[int, List[int]] = {}
    order: List[int] = []
    counts = [0, 0]

    def ranking(i: int) -> List[int]:
        if i not in asked:
            waiting = np.array([k not in asked for k in range(n)])
            ready = waiting & ~(near & open_[None, :]).any(axis=1)
            ready[i] = True
            rows = np.flatnonzero(ready).tolist()
            known = np.repeat(_claiming(nxt)[None], len(rows), axis=0)
            for row, got in zip(rows, decide(rows, claimed.copy(), known)):
                asked[row] = clean_ranking(got)
            counts[0] += 1
            counts[1] += len(rows)
        return asked[i]

    def claim(i: int, cell: Optional[Cell]) -> None:
        nxt[i] = cell
        if cell is not None:
            claimed[i] = cell

    def serve(i: int) -> bool:
        order.append(i)
        for action in ranking(i):
            cell = (cells[i][0] + deltas[action][0], cells[i][1] + deltas[action][1])
            if cell in reserved:
                continue
            j = occupant.get(cell)
            if j is not None and j != i and nxt[j] == cells[i]:
                continue  # j is moving into i's cell: a swap
            if not rotations and closes_rotation(i, cell, occupant, nxt):
                continue
            claim(i, cell)
            reserved[cell] = i
            if j is not None and j != i and nxt[j] is None and not serve(j):
                continue  # j could not leave (it now stays in ``cell``)
            open_[i] = False
            return True
        claim(i, cells[i])
        reserved[cells[i]] = i
        open_[i] = False
        return False

    for i in sorted(range(n), key=lambda k: (-float(ages[k]), k)):
        if nxt[i] is None:
            serve(i)
    after = np.array(nxt, dtype=np.int64).reshape(-1, 2)
    check_step(pos, after, rotations)
    return after, Ledger(counts[0], counts[1], order, [asked.get(i, []) for i in range(n)])


def _claiming(nxt: Sequence[Optional[Cell]]) -> np.ndarray:
    """Agents holding a claim now (served, or tentatively, up the chain of pushes)."""
    return np.array([cell is not None for cell in nxt], dtype=bool)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities of ``logits`` (B, A)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def check_step(positions: np.ndarray, next_cells: np.ndarray, rotations: bool = True) -> None:
    """Refuse a step in which an agent jumps, two agents share a cell or two swap, or, with
    ``rotations`` False, agents move round a ring (ValueError naming the agents): the last
    line of defence of every resolution that promises none."""
    pos = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    nxt = np.asarray(next_cells, dtype=np.int64).reshape(-1, 2)
    if pos.shape != nxt.shape:
        raise ValueError(f"{len(pos)} agents but {len(nxt)} next cells")
    jump = np.flatnonzero(np.abs(nxt - pos).sum(axis=1) > 1)
    if len(jump):
        raise ValueError(f"agents {jump.tolist()} would move more than one cell")
    seen: Dict[Cell, int] = {}
    start = {(int(r), int(c)): i for i, (r, c) in enumerate(pos.tolist())}
    for i, (r, c) in enumerate(nxt.tolist()):
        if (r, c) in seen:
            raise ValueError(f"agents {seen[(r, c)]} and {i} would share cell {(r, c)}")
        seen[(r, c)] = i
        j = start.get((r, c))
        if j is not None and j != i and tuple(nxt[j]) == tuple(pos[i]):
            raise ValueError(f"agents {min(i, j)} and {max(i, j)} would swap cells")
    ring = [] if rotations else rings(pos, nxt)
    if ring:
        raise ValueError(f"agents {sorted(ring[0])} would move round a ring")


class AskInTurn:
    """A model, asked in turn: :data:`Decide` over a version 3 encoder.

    The step's tokens are encoded once (nobody has decided yet); each call writes the claim
    tokens of its rows and calls the model once for all of them. Each ranking holds the
    allowed moves the claims leave free, best first, then the claimed ones (which the serving
    skips, but a search over other serve orders may use).

    Args:
        encoder: the step's encoder (``claims=True``).
        observation: ``encoder``'s encoding of the step's start.
        positions: (N, 2) the agents' cells.
        logits: the model: token rows (B, T) -> logits (B, 5).
        choose: the step rule's :meth:`~marlgpt_planner.step_rule.StepRule.choose`
            (logits, mask, sample, rng, path_left) -> rankings.
        sample, rng: greedy rankings, or drawn from the policy with ``rng``.
        path_left: (N, 5) the path length each action leaves, for a rule with a path weight.
        prior: (N, 5) per agent, log-weights added to the model's log-probabilities before
            ranking (a teacher kept close to another policy: ``marlgpt generate --teacher``);
            None: the model's own.
    """

    def __init__(self, encoder: Encoder, observation: Observation, positions: np.ndarray,
                 logits: Callable[[np.ndarray], np.ndarray], choose: Callable[..., List[List[int]]],
                 sample: bool = False, rng: Optional[np.random.Generator] = None,
                 path_left: Optional[np.ndarray] = None,
                 prior: Optional[np.ndarray] = None) -> None:
        if not encoder.claims:
            raise ValueError("asking in turn needs the claim tokens (encoder version 3)")
        self.encoder, self.observation, self.positions = encoder, observation, positions
        self._logits, self._choose = logits, choose
        self.sample, self.rng, self.path_left, self.prior = sample, rng, path_left, prior
        self.calls = self.rows = 0

    def _rank(self, logits: np.ndarray, mask: np.ndarray, rows: List[int]) -> List[List[int]]:
        path_left = None if self.path_left is None else self.path_left[rows]
        return self._choose(logits, mask, self.sample, self.rng, path_left)

    def __call__(self, rows: Sequence[int], next_cells: np.ndarray,
                 known: np.ndarray) -> List[List[int]]:
        rows = list(rows)
        claims = self.encoder.claim_values(self.positions, np.array(rows), next_cells, known)
        values = self.observation.values[rows]
        values[:, self.encoder.claims_start:] = claims
        free = self.observation.action_mask[rows]
        legal = free & (claims[:, :NUM_ACTIONS] == 0)
        self.calls += 1
        self.rows += len(rows)
        logits = self._logits(values)
        if self.prior is not None:
            logits = log_softmax(logits) + self.prior[rows]
        # The claimed moves last: the serving skips them, and the search over other serve
        # orders (where they may be free) still has every move the map allows.
        first = self._rank(logits, legal, rows)
        every = self._rank(logits, free, rows) if (legal != free).any() else first
        return [head + [a for a in full if a not in head] for head, full in zip(first, every)]
