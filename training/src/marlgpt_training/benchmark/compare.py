"""Paired comparison of two POGEMA benchmark results (``marlgpt eval --json`` files).

Two policies scored on the same instances differ by less than the instances differ from one
another, so their scores are compared per instance: for every map both results played with
every agent count, the difference of the map's throughputs averaged over the agent counts
(the benchmark's score is the mean of these over maps). The mean difference comes with a
Student-t 95 % interval over maps and the count of maps each side won; an interval that
contains 0 means these instances cannot tell the two apart.
"""
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

#: Two-sided 95 % Student-t quantiles for 1-6 degrees of freedom (the series below is used
#: from 7 on, where it is within 0.002 of the exact value).
_T_SMALL = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447}


def t95(dof: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError("a t interval needs at least 2 paired values")
    if dof in _T_SMALL:
        return _T_SMALL[dof]
    z = 1.959964
    # Cornish-Fisher expansion of the t quantile in powers of 1 / dof.
    return (z + (z ** 3 + z) / (4 * dof)
            + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * dof ** 3))


@dataclass
class Paired:
    """Differences ``b - a`` over paired values."""

    label: str
    a: float  # mean of a over the pairs
    b: float
    diff: float  # mean of b - a
    low: float  # 95 % interval of the mean difference (nan with one pair)
    high: float
    pairs: int
    b_wins: int
    a_wins: int

    @property
    def separable(self) -> bool:
        """True when the interval excludes 0: these instances tell the two apart."""
        return self.pairs > 1 and (self.low > 0 or self.high < 0)


def paired(label: str, a: Sequence[float], b: Sequence[float]) -> Paired:
    """Mean difference ``b - a`` with its 95 % t interval; ``a`` and ``b`` are paired."""
    if len(a) != len(b) or not a:
        raise ValueError("paired values must be two non-empty lists of the same length")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    n, mean = len(diffs), statistics.fmean(diffs)
    half = t95(n - 1) * statistics.stdev(diffs) / math.sqrt(n) if n > 1 else math.nan
    return Paired(label, statistics.fmean(a), statistics.fmean(b), mean, mean - half,
                  mean + half, n, sum(d > 0 for d in diffs), sum(d < 0 for d in diffs))


def load_result(path: Path) -> dict:
    """A ``marlgpt eval --json`` result of a POGEMA map set, or ValueError saying why not."""
    try:
        result = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    episodes = result.get("episodes") if isinstance(result, dict) else None
    if not isinstance(episodes, list) or "map_set" not in result:
        raise ValueError(f"{path}: not a POGEMA benchmark result of marlgpt eval --json "
                         "(no map_set and episodes)")
    for episode in episodes:
        if not all(key in episode for key in ("map_name", "num_agents", "avg_throughput")):
            raise ValueError(f"{path}: an episode lacks map_name, num_agents or avg_throughput")
    return result


def reference_result(map_set_dir: Path, algorithm: str) -> dict:
    """A published algorithm's per-instance results on a map set (its ``reference-results``)
    in the form of a ``marlgpt eval --json`` result, to compare against."""
    from marlgpt_training.benchmark.mapset import MapSet

    try:
        map_set = MapSet.load(map_set_dir)
    except OSError as exc:
        raise ValueError(str(exc)) from None
    references = map_set.reference_results()
    if algorithm not in references:
        raise ValueError(f"{map_set.name} has no published results of {algorithm!r}; it has "
                         f"{', '.join(sorted(references)) or 'none'}")
    return {"map_set": map_set.name, "policy": f"{algorithm} (published)",
            "episodes": [{"map_name": m, "seed": seed, "num_agents": n, "avg_throughput": v}
                         for (m, seed, n), v in sorted(references[algorithm].items())]}


def _by_instance(result: dict) -> Dict[Tuple[str, int], float]:
    """Throughput per (map, agent count); a map's seed is part of its name here."""
    return {(f'{e["map_name"]}@{e.get("seed", 0)}', int(e["num_agents"])):
            float(e["avg_throughput"]) for e in result["episodes"]}


def describe(result: dict) -> str:
    """The policy as the result names it, with its resolution rule, search and decoding."""
    policy = Path(str(result.get("policy", "?"))).name
    how = [str(result["resolution"])] if result.get("resolution") else []
    if int(result.get("search") or 1) > 1:
        how.append(f"search {int(result['search'])}")
    if result.get("rotations") is False:
        how.append("no rotations")
    if result.get("sample"):
        how.append("sampled")
    return f"{policy} ({', '.join(how)})" if how else policy


def compare(a: dict, b: dict) -> Tuple[List[Paired], Paired, int]:
    """Per agent count and for the score: ``b - a`` on the instances both played.

    Returns (rows per agent count, the score row over maps, instances only one side played).
    """
    if a.get("map_set") != b.get("map_set"):
        raise ValueError(f"the results are of different map sets: {a.get('map_set')} and "
                         f"{b.get('map_set')}")
    in_a, in_b = _by_instance(a), _by_instance(b)
    common = sorted(set(in_a) & set(in_b))
    if not common:
        raise ValueError("the results share no instance (map and agent count)")
    agents = sorted({n for _, n in common})
    rows = []
    for n in agents:
        keys = [key for key in common if key[1] == n]
        rows.append(paired(f"{n} agents", [in_a[k] for k in keys], [in_b[k] for k in keys]))
    # The score: maps that both played with every agent count, each averaged over them.
    maps = sorted({m for m, _ in common})
    full = [m for m in maps if all((m, n) in in_a and (m, n) in in_b for n in agents)]
    if not full:
        raise ValueError("no map was played with every agent count by both results")
    score = paired("score", [sum(in_a[(m, n)] for n in agents) / len(agents) for m in full],
                   [sum(in_b[(m, n)] for n in agents) / len(agents) for m in full])
    unmatched = len(set(in_a) ^ set(in_b))
    return rows, score, unmatched


def format_table(a: dict, b: dict, rows: List[Paired], score: Paired, unmatched: int) -> str:
    """The comparison as a plain-text table and a verdict line."""
    name_a, name_b = describe(a), describe(b)
    lines = [f"{a['map_set']}: A = {name_a}, B = {name_b}; B - A per instance, "
             f"95 % t interval over instances",
             f"{'':10}  {'pairs':>5}  {'A':>6}  {'B':>6}  {'B - A':>7}  {'95 % interval':>17}"
             f"  {'B wins':>6}  {'A wins':>6}"]
    for row in rows + [score]:
        interval = (f"[{row.low:+.3f}, {row.high:+.3f}]" if row.pairs > 1 else "-")
        lines.append(f"{row.label:10}  {row.pairs:5d}  {row.a:6.3f}  {row.b:6.3f}  "
                     f"{row.diff:+7.3f}  {interval:>17}  {row.b_wins:6d}  {row.a_wins:6d}")
    if unmatched:
        lines.append(f"({unmatched} instance(s) played by only one result are left out)")
    if score.separable:
        better = name_b if score.diff > 0 else name_a
        lines.append(f"verdict: {better} scores higher on these instances "
                     f"({score.diff / max(score.a, 1e-12):+.1%} of A's score)")
    else:
        lines.append(f"verdict: not separable on these {score.pairs} maps (the interval "
                     "contains 0); evaluate more instances to tell them apart")
    return "\n".join(lines)


def to_json(a: dict, b: dict, rows: List[Paired], score: Paired, unmatched: int) -> dict:
    """The comparison as a JSON-ready dict."""
    def row(p: Paired) -> dict:
        return {"label": p.label, "pairs": p.pairs, "a": p.a, "b": p.b, "diff": p.diff,
                "low": None if math.isnan(p.low) else p.low,
                "high": None if math.isnan(p.high) else p.high,
                "b_wins": p.b_wins, "a_wins": p.a_wins, "separable": p.separable}

    return {"map_set": a["map_set"], "a": describe(a), "b": describe(b),
            "per_agents": [row(r) for r in rows], "score": row(score), "unmatched": unmatched}
