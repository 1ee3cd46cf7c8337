"""The scripted Google Research Football expert: the actions that ``marlgpt generate --env
grf`` records, in the game's default set of 19.

It plays every left-team player from that player's raw observation (see
:func:`expert_action`), and :class:`ScriptedExpert` holds each kick button for a few steps,
as the game charges a kick's power while its button is held. The game's own AI (action 19 of
the engine's ``v2`` set, :data:`BUILTIN_AI`) plays better in the full match but moves players
without an action to record, so it serves as a reference in evaluation only.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

NUM_ACTIONS = 19
#: Action 19 of the engine's ``v2`` set: the game's AI plays the player this step.
BUILTIN_AI = 19
IDLE, LONG_PASS, HIGH_PASS, SHORT_PASS, SHOT, SPRINT = 0, 9, 10, 11, 12, 13
RELEASE_DIRECTION, RELEASE_SPRINT, DRIBBLE = 14, 15, 17
#: Unit vectors of actions 1-8 (left, top left, top, top right, right, bottom right, bottom,
#: bottom left); positive y points to the bottom touchline.
DIRECTIONS = np.array([(-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1)],
                      dtype=np.float64)
DIRECTIONS /= np.linalg.norm(DIRECTIONS, axis=1, keepdims=True)


def nearest(points: np.ndarray, candidates: Sequence[int], pos: np.ndarray) -> List[int]:
    """``candidates`` (indices into ``points``) sorted by distance to ``pos``, ties by index."""
    candidates = list(candidates)
    distance = [float(np.hypot(*(points[k] - pos))) for k in candidates]
    return [candidates[i] for i in np.argsort(distance, kind="stable")]


def direction_action(vector: Sequence[float]) -> int:
    """The direction action (1-8) closest to ``vector``."""
    v = np.asarray(vector, dtype=np.float64)
    return int(np.argmax(DIRECTIONS @ (v / max(float(np.linalg.norm(v)), 1e-9)))) + 1


def _heading(obs: dict) -> int:
    """The direction action held (sticky), 0 if none."""
    held = np.flatnonzero(np.asarray(obs["sticky_actions"])[:8])
    return int(held[0]) + 1 if len(held) else 0


def _go(obs: dict, target: Sequence[float], sprint: bool, slack: float = 0.01) -> int:
    """Run towards ``target``: a direction, sprint toggled first; release when there."""
    me = np.asarray(obs["left_team"])[int(obs["active"])]
    delta = np.asarray(target, dtype=np.float64) - me
    sprinting = bool(obs["sticky_actions"][8])
    if float(np.hypot(*delta)) < slack:
        return RELEASE_DIRECTION if _heading(obs) else IDLE
    if sprint != sprinting:
        return SPRINT if sprint else RELEASE_SPRINT
    return direction_action(delta)


def _aim(obs: dict, target: Sequence[float], kick: int) -> int:
    """Face ``target``, then ``kick`` (shots: stop sprinting first, a sprint lifts them)."""
    if kick == SHOT and obs["sticky_actions"][8]:
        return RELEASE_SPRINT
    me = np.asarray(obs["left_team"])[int(obs["active"])]
    want = direction_action(np.asarray(target) - me)
    return kick if _heading(obs) == want else want


#: Shoot from x above SHOOT_FROM[0] within |y| < SHOOT_FROM[1] (the goal mouth is |y| < 0.044).
SHOOT_FROM = (0.7, 0.15)
#: Pass when an opponent ahead is nearer than BLOCKED[0], within BLOCKED[1] across.
BLOCKED = (0.12, 0.1)


def expert_action(obs: dict) -> int:
    """The scripted expert's action for the player that ``obs`` (a raw observation) is of.

    With the ball: clear long from the own third, cross from the byline, shoot in front of
    goal, pass to a free teammate further up when an opponent blocks the way, else sprint at
    the goal. The nearest field player goes for a ball the team does not have; the keeper
    guards the goal line; the others run into space (into the box when the ball is near it)
    while the team attacks and drop between ball and goal otherwise. Set pieces: the nearest
    player takes them (a high ball to the penalty spot from corners and free kicks).
    """
    me = int(obs["active"])
    team = np.asarray(obs["left_team"])
    rivals = np.asarray(obs["right_team"])
    pos = team[me]
    ball = np.asarray(obs["ball"])[:2]
    owner_team, owner = int(obs["ball_owned_team"]), int(obs["ball_owned_player"])
    goal = np.array([1.0, 0.0])
    mode = int(obs["game_mode"])
    is_keeper = int(np.asarray(obs["left_team_roles"])[me]) == 0
    if mode != 0 and owner_team != 1:  # our set piece: the nearest player takes it
        if me == nearest(team, range(len(team)), ball)[0]:
            if mode in (3, 4):  # free kick, corner: a high ball to the penalty spot
                return _aim(obs, (0.85, 0.0), HIGH_PASS)
            if mode == 6:
                return _aim(obs, goal, SHOT)
            return _aim(obs, team[nearest(team, [k for k in range(len(team)) if k != me],
                                           pos)[0]], SHORT_PASS)
        if mode == 4 and not is_keeper:  # into the box for the corner
            return _go(obs, (0.88, float(np.clip(pos[1], -0.15, 0.15))), sprint=False,
                       slack=0.03)
        return RELEASE_DIRECTION if _heading(obs) else IDLE
    if owner_team == 0 and owner == me:
        if is_keeper or pos[0] < -0.6:
            return _aim(obs, (pos[0] + 0.6, pos[1] * 0.5), LONG_PASS)
        if pos[0] > 0.85 and abs(pos[1]) > 0.2:  # by the byline, wide: cross
            return _aim(obs, (0.85, 0.0), HIGH_PASS)
        settled = np.asarray(obs["ball"])[2] < 0.15  # from afar, a bouncing ball goes over
        if pos[0] > SHOOT_FROM[0] and abs(pos[1]) < SHOOT_FROM[1] and (pos[0] > 0.8 or settled):
            return _aim(obs, goal, SHOT)
        ahead = rivals[(rivals[:, 0] > pos[0]) & (np.hypot(*(rivals - pos).T) < BLOCKED[0])]
        if len(ahead) and abs(ahead[0][1] - pos[1]) < BLOCKED[1]:
            free = [k for k in range(len(team)) if k != me and team[k][0] > pos[0] - 0.05
                    and np.min(np.hypot(*(rivals - team[k]).T)) > 0.08]
            if free:
                return _aim(obs, team[nearest(team, free, pos)[0]], SHORT_PASS)
        return _go(obs, goal, sprint=True)
    roles = np.asarray(obs["left_team_roles"])
    field = [k for k in range(len(team)) if int(roles[k]) != 0] or list(range(len(team)))
    height = float(np.asarray(obs["ball"])[2])
    lead = ball + (10.0 if height > 0.5 else 3.0) * np.asarray(obs["ball_direction"])[:2]
    if owner_team != 0 and me == nearest(team, field, lead)[0]:
        return _go(obs, lead, sprint=True, slack=0.0)  # the nearest player goes for the ball
    if is_keeper:
        return _go(obs, (-0.95, float(np.clip(ball[1] * 0.2, -0.06, 0.06))), sprint=False,
                   slack=0.02)
    if owner_team == 0 or (owner_team == -1 and ball[0] > 0.0):  # attack: into space
        if ball[0] > 0.6 and pos[0] > 0.3:  # the ball near their box: into the box
            return _go(obs, (0.87, float(np.clip(pos[1], -0.16, 0.16))), sprint=True,
                       slack=0.03)
        lane = float(np.clip(pos[1], -0.3, 0.3))
        return _go(obs, (min(ball[0] + 0.25, 0.85), lane), sprint=True, slack=0.03)
    home = ((ball[0] - 1.0) / 2.0, (ball[1] + pos[1]) / 2.0)  # defend: between ball and goal
    return _go(obs, home, sprint=False, slack=0.05)


#: Steps a kick button is held once pressed: the game charges power while it is held and
#: kicks on release (or by itself after about five steps).
HOLD = {SHOT: 4, LONG_PASS: 2, HIGH_PASS: 2, SHORT_PASS: 1}


class ScriptedExpert:
    """:func:`expert_action` for every player, holding each kick for ``HOLD`` steps; one
    instance per episode (it remembers the kicks under way)."""

    def __init__(self) -> None:
        self.kicks: Dict[int, Tuple[int, int]] = {}  # player -> (button, steps left)

    def __call__(self, observations: Sequence[dict], tokens: object = None,
                 mask: object = None) -> np.ndarray:
        actions = np.empty(len(observations), dtype=np.int64)
        for i, obs in enumerate(observations):
            button, left = self.kicks.pop(i, (None, 0))
            if left > 0:
                actions[i] = button
                self.kicks[i] = (button, left - 1)
                continue
            if button is not None:  # let go: the kick happens
                actions[i] = _heading(obs) or IDLE
                continue
            actions[i] = expert_action(obs)
            if actions[i] in HOLD:
                self.kicks[i] = (int(actions[i]), HOLD[int(actions[i])] - 1)
        return actions


def expert_actions(observations: Sequence[dict]) -> np.ndarray:
    """The expert's actions without memory of kicks under way (see :class:`ScriptedExpert`)."""
    return np.array([expert_action(obs) for obs in observations], dtype=np.int64)
