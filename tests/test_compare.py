"""``marlgpt compare``: paired per-instance comparison of two benchmark results."""
import json
import math
import statistics
from pathlib import Path
from typing import Dict, List

import pytest

from marlgpt_planner.step_rule import StepRule
from marlgpt_training.benchmark.compare import compare, load_result, paired, t95
from marlgpt_training.benchmark.episode import EpisodeResult
from marlgpt_training.benchmark.evaluate import EvalReport
from marlgpt_training.cli import main


def result(throughputs: Dict[int, List[float]], map_set: str = "02-mazes", policy: str = "p",
           resolution: str = "shield") -> dict:
    """An eval --json result: ``throughputs[n][i]`` is map i's throughput with n agents."""
    episodes = [{"map_name": f"map-{i:03d}", "seed": 0, "num_agents": n, "steps": 128,
                 "goals": round(t * 128), "avg_throughput": t, "seconds": 1.0}
                for n, values in throughputs.items() for i, t in enumerate(values)]
    return {"map_set": map_set, "policy": policy, "resolution": resolution, "episodes": episodes}


def test_t_quantiles_match_the_tables() -> None:
    for dof, exact in ((1, 12.706), (4, 2.776), (6, 2.447), (7, 2.365), (8, 2.306), (15, 2.131),
                       (30, 2.042), (120, 1.980)):
        assert t95(dof) == pytest.approx(exact, abs=2e-3), dof
    with pytest.raises(ValueError):
        t95(0)


def test_paired_interval_is_the_t_interval_of_the_differences() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.5, 3.2, 4.6, 5.1]
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    half = t95(4) * statistics.stdev(diffs) / math.sqrt(5)
    row = paired("x", a, b)
    assert row.diff == pytest.approx(statistics.mean(diffs))
    assert (row.low, row.high) == pytest.approx((row.diff - half, row.diff + half))
    assert (row.b_wins, row.a_wins, row.pairs) == (5, 0, 5)
    assert row.separable
    single = paired("one", [1.0], [2.0])
    assert math.isnan(single.low) and not single.separable


def test_a_consistent_gain_is_separable_and_its_sign_follows_the_order() -> None:
    base = {8: [0.40, 0.45, 0.50, 0.38, 0.42, 0.47], 32: [1.2, 1.3, 1.1, 1.25, 1.35, 1.15]}
    noise = [0.01, -0.01, 0.02, 0.0, -0.02, 0.01]
    better = {n: [v + 0.05 + e for v, e in zip(values, noise, strict=True)]
              for n, values in base.items()}
    rows, score, unmatched = compare(result(base), result(better))
    assert [r.label for r in rows] == ["8 agents", "32 agents"] and unmatched == 0
    assert score.pairs == 6 and score.diff == pytest.approx(0.05 + sum(noise) / 6)
    assert score.separable and score.low > 0
    # The score row is the benchmark's score difference (mean over agent counts).
    assert score.b - score.a == pytest.approx(statistics.mean(
        [statistics.mean(better[n]) - statistics.mean(base[n]) for n in base]))
    _, reverse, _ = compare(result(better), result(base))
    assert reverse.diff == pytest.approx(-score.diff) and reverse.high < 0


def test_noise_alone_is_not_separable() -> None:
    base = {8: [0.40, 0.45, 0.50, 0.38], 32: [1.2, 1.3, 1.1, 1.25]}
    other = {8: [0.42, 0.43, 0.52, 0.36], 32: [1.25, 1.26, 1.13, 1.21]}
    _, score, _ = compare(result(base), result(other))
    assert score.low < 0 < score.high and not score.separable
    _, same, _ = compare(result(base), result(base))
    assert same.diff == 0 and not same.separable


def test_only_shared_instances_are_paired() -> None:
    a = result({8: [0.4, 0.5, 0.6], 32: [1.0, 1.1, 1.2]})
    b = result({8: [0.5, 0.6], 32: [1.1, 1.2, 1.3]})  # b lacks map 2 with 8 agents
    rows, score, unmatched = compare(a, b)
    assert [r.pairs for r in rows] == [2, 3] and score.pairs == 2 and unmatched == 1


def test_mismatched_results_are_refused() -> None:
    with pytest.raises(ValueError, match="different map sets"):
        compare(result({8: [0.4]}), result({8: [0.4]}, map_set="01-random"))
    with pytest.raises(ValueError, match="no instance"):
        compare(result({8: [0.4]}), result({32: [1.4]}))


def test_eval_reports_record_sampling_for_the_comparison() -> None:
    episodes = [EpisodeResult("map-000", 0, 8, 128, 64, 0.5, 1.0)]
    record = EvalReport("02-mazes", "m.onnx", episodes, {}, StepRule("soft"), True).to_json()
    assert record["sample"] is True and record["resolution"] == "soft"
    rows, score, _ = compare(record, record)
    assert score.pairs == 1


def test_cli_prints_a_verdict_and_writes_json(tmp_path: Path, capsys) -> None:
    base = {8: [0.40, 0.45, 0.50, 0.38, 0.42], 32: [1.2, 1.3, 1.1, 1.25, 1.35]}
    better = {n: [v + 0.1 for v in values] for n, values in base.items()}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(result(base, policy="bfs")))
    b.write_text(json.dumps(result(better, policy="out/m.onnx")))
    out = tmp_path / "cmp" / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "verdict: m.onnx (shield) scores higher" in text and "+0.100" in text
    written = json.loads(out.read_text())
    assert written["score"]["diff"] == pytest.approx(0.1) and written["score"]["separable"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not a JSON file"),
    (json.dumps({"env": "lbf", "scores": {}}), "not a POGEMA benchmark result"),
    (json.dumps({"map_set": "x", "episodes": [{"map_name": "m"}]}), "lacks"),
])
def test_cli_bad_input_is_one_line(tmp_path: Path, capsys, content, message) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(result({8: [0.4, 0.5]})))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert main(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("marlgpt compare: ") and message in err and "\n" not in err
    with pytest.raises(ValueError):
        load_result(bad)


def test_the_label_names_resolution_search_and_decoding() -> None:
    from marlgpt_training.benchmark.compare import describe

    searched = dict(result({8: [0.4]}, policy="out/m.onnx"), search=16)
    assert describe(searched) == "m.onnx (shield, search 16)"
    assert describe(dict(searched, search=1)) == "m.onnx (shield)"
    assert describe(dict(result({8: [0.4]}, policy="bfs", resolution="soft"), sample=True)) \
        == "bfs (soft, sampled)"


def test_a_result_compares_with_a_published_algorithm_instance_by_instance(
        tmp_path: Path, capsys) -> None:
    """--reference RHCR --map-set DIR: A is RHCR's stored per-instance results."""
    from tests.conftest import tiny_map_set

    map_set = tiny_map_set(tmp_path / "set")  # its reference "Ref": 0.25 everywhere
    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps({"map_set": "tiny", "policy": "expert", "episodes": [
        {"map_name": m, "seed": 0, "num_agents": n, "avg_throughput": 0.25 + 0.1 * (n == 6)}
        for m in ("m0", "m1", "m2") for n in (2, 6)]}))
    assert main(["compare", "--reference", "Ref", "--map-set", str(map_set), str(ours)]) == 0
    text = capsys.readouterr().out
    assert "A = Ref (published), B = expert" in text
    assert "+0.050" in text and "score" in text  # (0 + 0.1) / 2 per map
    assert main(["compare", "--reference", "Ref", str(ours)]) == 2  # no --map-set
    assert main(["compare", "--reference", "RHCX", "--map-set", str(map_set), str(ours)]) == 2
    assert "no published results of 'RHCX'; it has Ref" in capsys.readouterr().err
