"""Write a map set in the POGEMA benchmark's format from the training map generators.

    scripts/run python scripts/make_map_set.py --kind warehouse --maps 32 --size 25 \
        --out data/mapsets/03-warehouse
    .venv/bin/marlgpt eval --policy expert --map-set data/mapsets/03-warehouse --agents 8,32

The set (``maps.yaml`` and ``NAME-lmapf.yaml``, the layout ``marlgpt eval`` reads,
marlgpt_training.benchmark.mapset) has the shared sets' settings: soft collisions, agents
restarting on their targets, 128 steps, POGEMA placing starts and goals from the seed. Its maps
come from ``marlgpt_training.data.maps`` with seeds that the data generator never draws
(``--seed``, default 1,000,000 + map index), and it has no published reference results: it is
for held-out checks (a policy or expert on map kinds, sizes or seeds it was not built on),
scored against the other policies run on it.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import yaml

from marlgpt_planner.grid import render_grid
from marlgpt_training.commands.generate import _int_list  # generate's --agents parser
from marlgpt_training.data.maps import MAP_KINDS, make_map

#: The shared sets' episode settings (01-random, 02-mazes).
ENVIRONMENT = {"collision_system": "soft", "max_episode_steps": 128, "name": "Environment",
               "observation_type": "POMAPF", "on_target": "restart", "seed": 0,
               "with_animation": False}


def make_set(kind: str, maps: int, size: int, agents: List[int], seed: int, out: Path,
             density: float = 0.2) -> Path:
    """Write the set; returns its config file. Every map must hold the most agents."""
    names = {}
    for index in range(maps):
        grid = make_map(kind, size, size, np.random.default_rng(seed + index), density)
        free = int((~grid).sum())
        if free < 2 * max(agents):
            raise ValueError(f"map {index} has {free} free cells, too few for {max(agents)} "
                             "agents and their goals: a larger --size, or fewer --agents")
        names[f"{kind}-seed-{seed + index:07d}"] = render_grid(grid)
    out.mkdir(parents=True, exist_ok=True)
    set_name = out.name
    # As the shared sets write it: each grid a literal block, one row per line.
    (out / "maps.yaml").write_text("".join(
        f'"{name}": |-\n' + "".join(f"  {row}\n" for row in grid.splitlines())
        for name, grid in names.items()))
    config = dict(ENVIRONMENT, map_name={"grid_search": list(names)},
                  num_agents={"grid_search": list(agents)})
    path = out / f"{set_name}-lmapf.yaml"
    path.write_text(yaml.safe_dump({"environment": config}, sort_keys=True))
    return path


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/make_map_set.py", description=__doc__.split("\n\n")[2].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: scripts/run python scripts/make_map_set.py --kind warehouse --maps 32 "
        "--out data/mapsets/03-warehouse")
    parser.add_argument("--kind", choices=MAP_KINDS, required=True, help="map generator")
    parser.add_argument("--maps", type=int, default=32, help="maps (default: %(default)s)")
    parser.add_argument("--size", type=int, default=25, help="side in cells (default: "
                        "%(default)s)")
    parser.add_argument("--agents", type=_int_list, default=[8, 16, 24, 32, 48, 64],
                        metavar="N,N", help="agent counts (default: the shared sets' 8-64)")
    parser.add_argument("--density", type=float, default=0.2,
                        help="random maps: obstacle density (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1_000_000,
                        help="seed of the first map (default: %(default)s, far from the data "
                        "generator's)")
    parser.add_argument("--out", type=Path, required=True, help="the set's directory; its "
                        "name names the set")
    args = parser.parse_args(argv)
    if args.maps < 1 or args.size < 5 or min(args.agents) < 1:
        parser.error("--maps and --agents must be >= 1 and --size >= 5")
    try:
        path = make_set(args.kind, args.maps, args.size, args.agents, args.seed, args.out,
                        args.density)
    except ValueError as exc:
        print(f"make_map_set: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.maps} {args.kind} maps of {args.size}x{args.size}, agents "
          f"{','.join(map(str, args.agents))}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
