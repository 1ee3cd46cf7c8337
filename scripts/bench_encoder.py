"""Encoder speed: microseconds per agent to build observations, and per new BFS field.

Usage: scripts/run python scripts/bench_encoder.py [MAP_SET_DIR]
(default: ../shared/benchmarks/pogema-lmapf/01-random; uses its first map)
"""
import sys
import time
from pathlib import Path

import numpy as np

from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import bfs_distances, neighbour_table, parse_grid
from marlgpt_training.benchmark.mapset import MapSet

REPEATS = 200


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    set_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        root.parent / "shared/benchmarks/pogema-lmapf/01-random"
    map_set = MapSet.load(set_dir)
    name, text = next(iter(map_set.maps.items()))
    obstacles = parse_grid(text)
    free = np.argwhere(~obstacles)
    table = neighbour_table(obstacles)
    start = time.perf_counter()
    for goal in free[:REPEATS]:
        bfs_distances(obstacles, tuple(goal), table)
    per_field = (time.perf_counter() - start) / min(REPEATS, len(free))
    print(f"map {name} {obstacles.shape[0]}x{obstacles.shape[1]}: "
          f"new BFS field {per_field * 1e3:.3f} ms")
    rng = np.random.default_rng(0)
    for n in (8, 32, 64):
        picks = rng.choice(len(free), 2 * n, replace=False)
        state = GridState(free[picks[:n]], free[picks[n:]],
                          rng.integers(0, 5, size=(n, 3)))
        encoder = Encoder(obstacles)
        encoder.encode(state)  # fill the distance-field cache, as in a running episode
        start = time.perf_counter()
        for _ in range(REPEATS):
            encoder.encode(state)
        per_step = (time.perf_counter() - start) / REPEATS
        print(f"{n:3d} agents: {per_step * 1e3:.3f} ms per step = "
              f"{per_step / n * 1e6:.1f} us per agent ({encoder.num_tokens} tokens)")


if __name__ == "__main__":
    main()
