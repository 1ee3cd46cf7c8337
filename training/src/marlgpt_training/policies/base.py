"""The interface every evaluated policy implements."""
from typing import Optional

import numpy as np

from marlgpt_planner.actions import NUM_ACTIONS, WAIT
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.sequential import AskInTurn, Decide
from marlgpt_planner.step_rule import StepRule


class GridPolicy:
    """Chooses every agent's POGEMA action from the full grid state, once per step.

    Decentralized policies use only what each agent could observe (its own goal, cells and
    agents within ``radius``); centralized ones (an expert) may use everything.
    """

    name = "policy"
    #: Observation radius the policy needs distance fields padded by.
    radius = 1

    def reset(self, obstacles: np.ndarray, num_agents: int, seed: int = 0,
              fields: Optional[DistanceFields] = None) -> None:
        """Start an episode on a map; ``fields`` is a distance-field cache to share."""
        self.obstacles = obstacles
        self.fields = fields if fields is not None else DistanceFields(obstacles, pad=self.radius)
        self.rng = np.random.default_rng(seed)

    def act(self, state: GridState) -> np.ndarray:
        """(N,) int actions in POGEMA's order: 0 wait, 1 up, 2 down, 3 left, 4 right."""
        raise NotImplementedError

    def preferences(self, state: GridState) -> np.ndarray:
        """(N, 5) scores whose descending order is each agent's ranking of its actions, read
        by the collision shield (``marlgpt eval --resolution shield``); ``-inf`` never.

        By default: the action :meth:`act` chooses, then wait, then the other moves.
        """
        actions = np.asarray(self.act(state), dtype=np.int64)
        scores = np.zeros((len(actions), NUM_ACTIONS))
        scores[:, WAIT] = 0.5
        scores[np.arange(len(actions)), actions] = 1.0
        return scores

    def check_rule(self, rule: StepRule) -> None:
        """ValueError if this policy cannot act under ``rule`` (checked before an evaluation
        starts)."""

    def decider(self, state: GridState, rule: StepRule, allowed: np.ndarray,
                path_left: np.ndarray) -> Decide:
        """The policy asked agent by agent (the sequential resolution), for one step.

        By default blind to the claims: every agent's ranking of the whole step, from
        :meth:`preferences` (``allowed`` (N, 5): the moves that stay on free cells), as the
        shield reads them; the sequential step is then the shield's."""
        rankings = rule.rank(np.array(self.preferences(state), dtype=np.float64), allowed,
                             path_left)
        return lambda rows, claimed, known: [rankings[r] for r in rows]


class TokenPolicy(GridPolicy):
    """A model over the encoder's tokens (a checkpoint, an exported file): subclasses set
    ``encoder`` in :meth:`reset` and give :meth:`logits` of token rows; asked in turn, it
    reads the claims (encoder version 3)."""

    encoder: Encoder
    sample = False
    label = "the model"

    def logits(self, values: np.ndarray) -> np.ndarray:
        """(B, 5) action logits of token rows (B, T)."""
        raise NotImplementedError

    def layout_version(self) -> int:
        raise NotImplementedError

    def check_rule(self, rule: StepRule) -> None:
        rule.refuse_model(self.layout_version(), self.label)

    def decider(self, state: GridState, rule: StepRule, allowed: np.ndarray,
                path_left: np.ndarray) -> Decide:
        self.check_rule(rule)
        observation = self.encoder.encode(state)
        mask = observation.action_mask & allowed
        return AskInTurn(self.encoder, observation._replace(action_mask=mask), state.positions,
                         self.logits, rule.choose, self.sample, self.rng, path_left)
