"""The multi-robot warehouse (RWARE) expert: the actions that ``marlgpt generate --env rware``
records, and the greedy baseline of ``marlgpt eval --env rware``.

It reads the game itself (an ``rware`` ``Warehouse``): the agents' cells, headings and loads,
the shelves and the request queue. Actions are RWARE's: 0 none, 1 forward, 2 turn left,
3 turn right, 4 toggle load (pick up the shelf underneath, or put the carried one down).

Every agent works through the same cycle: walk to a requested shelf (an empty robot passes
under shelves), pick it up, carry it to a goal cell (the delivery, rewarded on arrival), carry
it back to an empty shelf cell (a loaded robot only crosses cells without a standing shelf) and
put it down. Paths are breadth-first searches over (cell, heading) states, so turns cost a step
like moves do.

The expert (``coordinated=True``) adds what keeps a team efficient: each requested shelf and
each empty cell a shelf goes back to is claimed by one agent (the nearest free one takes the
nearest unclaimed shelf), idle agents leave the corridors and wait under a shelf, and in a jam
the agent of lower priority gives way: stuck for three steps next to an agent that ranks above
it (one delivering, then one returning a shelf, then an empty one; lower index first) or that
is not going anywhere, it detours around the agents near it for the next six steps. The greedy
baseline (``coordinated=False``) has every agent on its own: the nearest requested shelf, the
nearest goal, the nearest empty cell, no claims, straight at the others. Both take a random
turn or move half of the time once stuck for six steps, so no deadlock lasts.
"""
from collections import deque
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

NUM_ACTIONS = 5
NOOP, FORWARD, LEFT, RIGHT, TOGGLE_LOAD = range(NUM_ACTIONS)
#: RWARE's headings (UP, DOWN, LEFT, RIGHT) as (dx, dy) steps; y grows downwards.
STEPS = ((0, -1), (0, 1), (-1, 0), (1, 0))
#: The heading after a right / left turn (clockwise: up, right, down, left).
RIGHT_OF = (3, 2, 0, 1)
LEFT_OF = (2, 3, 1, 0)
UNREACHABLE = 1 << 20
#: Steps on the way without moving after which an agent of lower priority than an agent next
#: to it plans around the agents near it (expert only; a U-turn takes two steps).
REPLAN_AFTER = 3
#: Steps a detour around the agents that blocked it lasts.
DETOUR_STEPS = 6

Cell = Tuple[int, int]  # (x, y)


def standing_shelves(env) -> np.ndarray:
    """(height, width) bool: cells holding a shelf that no agent carries."""
    standing = env.grid[1] > 0
    for agent in env.agents:
        if agent.carrying_shelf is not None:
            standing[agent.y, agent.x] = False
    return standing


def action_mask(env) -> np.ndarray:
    """(agents, 5): the actions that can do something now. None and the turns always;
    forward unless it leads off the grid or, carrying a shelf, into a standing shelf (RWARE
    cancels that move); toggle load on a shelf when empty-handed, off the corridors (RWARE's
    highways) when carrying one."""
    height, width = env.grid_size
    standing = standing_shelves(env)
    mask = np.ones((len(env.agents), NUM_ACTIONS), dtype=bool)
    for i, agent in enumerate(env.agents):
        dx, dy = STEPS[agent.dir.value]
        x, y = agent.x + dx, agent.y + dy
        loaded = agent.carrying_shelf is not None
        mask[i, FORWARD] = 0 <= x < width and 0 <= y < height and not (loaded and standing[y, x])
        if loaded:
            mask[i, TOGGLE_LOAD] = not env.highways[agent.y, agent.x]
        else:
            mask[i, TOGGLE_LOAD] = bool(env.grid[1, agent.y, agent.x])
    return mask


def distances(passable: np.ndarray, targets: Sequence[Cell]) -> List[int]:
    """Steps from every state to standing on one of ``targets``, a flat list indexed by
    ``(y * width + x) * 4 + heading``; moves only enter ``passable`` cells (targets count as
    passable), turns cost a step; ``UNREACHABLE`` where no path exists."""
    height, width = passable.shape
    open_ = passable.reshape(-1).tolist()
    dist = [UNREACHABLE] * (height * width * 4)
    queue: deque = deque()
    for x, y in targets:
        open_[y * width + x] = True
        for heading in range(4):
            dist[(y * width + x) * 4 + heading] = 0
            queue.append((x, y, heading))
    while queue:
        x, y, heading = queue.popleft()
        cell = y * width + x
        nxt = dist[cell * 4 + heading] + 1
        for before in (LEFT_OF[heading], RIGHT_OF[heading]):  # turned into this heading
            if dist[cell * 4 + before] > nxt:
                dist[cell * 4 + before] = nxt
                queue.append((x, y, before))
        dx, dy = STEPS[heading]
        px, py = x - dx, y - dy  # moved forward from there
        if 0 <= px < width and 0 <= py < height:
            index = (py * width + px) * 4 + heading
            if dist[index] > nxt:
                dist[index] = nxt
                if open_[py * width + px]:
                    queue.append((px, py, heading))
    return dist


def next_action(dist: List[int], passable: np.ndarray, x: int, y: int, heading: int) -> int:
    """The first action of a shortest path from (x, y, heading) in ``dist`` (NOOP when there is
    none or the agent stands on a target)."""
    height, width = passable.shape
    here = (y * width + x) * 4
    if dist[here + heading] in (0, UNREACHABLE):
        return NOOP
    best, best_cost = NOOP, dist[here + heading]
    dx, dy = STEPS[heading]
    fx, fy = x + dx, y + dy
    if 0 <= fx < width and 0 <= fy < height:
        cost = dist[(fy * width + fx) * 4 + heading]
        if cost < best_cost and (cost == 0 or passable[fy, fx]):
            best, best_cost = FORWARD, cost
    for action, turned in ((LEFT, LEFT_OF[heading]), (RIGHT, RIGHT_OF[heading])):
        cost = dist[here + turned]
        if cost < best_cost:
            best, best_cost = action, cost
    return best


class WarehouseExpert:
    """``act(env) -> actions`` for one episode (it remembers claims and blocked steps).

    ``coordinated``: the expert (claims, parking, planning around blocked agents); otherwise
    the greedy baseline. ``patience``: blocked steps before random escapes.
    """

    def __init__(self, rng: np.random.Generator, coordinated: bool = True,
                 patience: int = 6) -> None:
        self.rng = rng
        self.coordinated = coordinated
        self.patience = patience
        self.claims: Dict[int, int] = {}  # agent -> requested shelf id it fetches
        self.slots: Dict[int, Cell] = {}  # agent -> empty shelf cell it returns to
        self.blocked: List[int] = []
        self.last: List[Tuple[int, int, bool]] = []  # (x, y, on the way) of the last step
        self.cache: Dict[tuple, List[int]] = {}
        self.detours: Dict[int, Tuple[frozenset, int]] = {}  # agent -> (cells avoided, steps)

    def __call__(self, env) -> np.ndarray:
        agents = env.agents
        if len(self.blocked) != len(agents):
            self.blocked = [0] * len(agents)
        mask = action_mask(env)
        for i, agent in enumerate(agents):  # steps spent on the way without moving
            if self.last and self.last[i][2] and self.last[i][:2] == (agent.x, agent.y):
                self.blocked[i] += 1
            else:
                self.blocked[i] = 0
        standing = standing_shelves(env)
        requested = {shelf.id: (shelf.x, shelf.y) for shelf in env.request_queue}
        targets = self._targets(env, standing, requested)
        if self.coordinated:
            self._yield(env, requested, [bool(t[0]) and (a.x, a.y) not in t[0]
                                         for a, t in zip(agents, targets, strict=True)])
        actions = np.zeros(len(agents), dtype=np.int64)
        travelling = [False] * len(agents)
        for i, agent in enumerate(agents):
            goal, on_arrival = targets[i]
            if not goal:
                action = NOOP
            elif (agent.x, agent.y) in goal:
                action = on_arrival
            else:
                action = self._move(agent, goal, standing, i)
                travelling[i] = True
            if self.blocked[i] >= self.patience and self.rng.random() < 0.5:
                choices = [a for a in (FORWARD, LEFT, RIGHT) if mask[i, a]]
                action = int(self.rng.choice(choices))
            if not mask[i, action]:
                action = NOOP
            actions[i] = action
        self.last = [(a.x, a.y, on_way) for a, on_way in zip(agents, travelling, strict=True)]
        return actions

    # --- what each agent heads for ---------------------------------------------------------

    def _targets(self, env, standing: np.ndarray,
                 requested: Dict[int, Cell]) -> List[Tuple[Tuple[Cell, ...], int]]:
        """Per agent: (cells it heads for, action on arrival); no cells: nothing to do."""
        agents = env.agents
        goals = tuple((int(x), int(y)) for x, y in env.goals)
        empty_slots = [(int(x), int(y)) for y, x in np.argwhere(~standing & (env.highways == 0))]
        loaded_at = {(a.x, a.y): i for i, a in enumerate(agents) if a.carrying_shelf is not None}
        out: List[Tuple[Tuple[Cell, ...], int]] = [((), NOOP)] * len(agents)
        free: List[int] = []
        for i, agent in enumerate(agents):
            shelf = agent.carrying_shelf
            if shelf is None:
                self.slots.pop(i, None)
                claim = self.claims.get(i)
                if self.coordinated and claim in requested \
                        and standing[requested[claim][1], requested[claim][0]]:
                    out[i] = ((requested[claim],), TOGGLE_LOAD)
                else:
                    self.claims.pop(i, None)
                    free.append(i)
            elif shelf.id in requested:
                self.claims.pop(i, None)
                out[i] = (goals, NOOP)
            else:
                self.claims.pop(i, None)
                mine = [c for c in empty_slots if loaded_at.get(c, i) == i]
                out[i] = (self._slot(i, agent, mine), TOGGLE_LOAD)
        waiting = {sid: cell for sid, cell in requested.items()
                   if standing[cell[1], cell[0]] and sid not in self.claims.values()}
        if self.coordinated:
            pairs = sorted((abs(agents[i].x - x) + abs(agents[i].y - y), i, sid)
                           for i in free for sid, (x, y) in waiting.items())
            for _, i, sid in pairs:
                if i in self.claims or sid in self.claims.values():
                    continue
                self.claims[i] = sid
                out[i] = ((waiting[sid],), TOGGLE_LOAD)
            taken = {(a.x, a.y) for a in agents}
            for i in free:
                if i not in self.claims and env.highways[agents[i].y, agents[i].x]:
                    spots = tuple(c for c in empty_or_shelf_cells(env) if c not in taken)
                    out[i] = (spots, NOOP)  # park off the corridors
        else:
            for i in free:
                if waiting:
                    agent = agents[i]
                    _, sid = min((abs(agent.x - x) + abs(agent.y - y), sid)
                                 for sid, (x, y) in waiting.items())
                    out[i] = ((waiting[sid],), TOGGLE_LOAD)
        return out

    def _slot(self, i: int, agent, empty_slots: List[Cell]) -> Tuple[Cell, ...]:
        """The empty shelf cell(s) agent ``i`` carries a delivered shelf back to."""
        if not self.coordinated:
            return tuple(empty_slots)
        mine = self.slots.get(i)
        if mine in empty_slots:
            return (mine,)
        others = {cell for j, cell in self.slots.items() if j != i}
        free = [c for c in empty_slots if c not in others] or empty_slots
        if not free:
            return ()
        self.slots[i] = min(free, key=lambda c: (abs(c[0] - agent.x) + abs(c[1] - agent.y), c))
        return (self.slots[i],)

    # --- how it gets there -----------------------------------------------------------------

    def _move(self, agent, goal: Tuple[Cell, ...], standing: np.ndarray, i: int) -> int:
        loaded = agent.carrying_shelf is not None
        passable = ~standing if loaded else np.ones_like(standing)
        heading = agent.dir.value
        detour = self.detours.get(i)
        if detour is not None:
            cells, left = detour
            around = passable.copy()
            for x, y in cells:
                around[y, x] = False
            around[agent.y, agent.x] = True
            action = next_action(distances(around, goal), around, agent.x, agent.y, heading)
            if action != NOOP and left > 1:
                self.detours[i] = (cells, left - 1)
            else:
                del self.detours[i]
            if action != NOOP:
                return action
        key = (loaded, goal, passable.tobytes() if loaded else b"")
        dist = self.cache.get(key)
        if dist is None:
            if len(self.cache) > 512:
                self.cache.clear()
            dist = self.cache[key] = distances(passable, goal)
        return next_action(dist, passable, agent.x, agent.y, heading)

    def _yield(self, env, requested: Dict[int, Cell], travelling: List[bool]) -> None:
        """Agents stuck for a few steps next to an agent of higher priority (or one that is not
        going anywhere) take a detour around the agents near them for the next few steps."""
        agents = env.agents

        def rank(j: int) -> Tuple[int, int]:
            shelf = agents[j].carrying_shelf
            return (0 if shelf is not None and shelf.id in requested
                    else 1 if shelf is not None else 2, j)

        for i, agent in enumerate(agents):
            if self.blocked[i] < REPLAN_AFTER or i in self.detours:
                continue
            near = [j for j, other in enumerate(agents)
                    if j != i and abs(other.x - agent.x) + abs(other.y - agent.y) == 1]
            if any(not travelling[j] or rank(j) < rank(i) for j in near):
                cells = frozenset((agents[j].x, agents[j].y) for j, other in enumerate(agents)
                                  if j != i and abs(other.x - agent.x) + abs(other.y - agent.y)
                                  <= 2)
                self.detours[i] = (cells, DETOUR_STEPS)

def empty_or_shelf_cells(env) -> List[Cell]:
    """The cells off RWARE's highways (shelf cells, with or without a shelf)."""
    return [(int(x), int(y)) for y, x in np.argwhere(env.highways == 0)]


def expert(rng: np.random.Generator) -> WarehouseExpert:
    """The coordinated expert for one episode."""
    return WarehouseExpert(rng, coordinated=True)


def greedy(rng: Optional[np.random.Generator] = None) -> WarehouseExpert:
    """The greedy baseline for one episode."""
    return WarehouseExpert(rng if rng is not None else np.random.default_rng(0),
                           coordinated=False)
