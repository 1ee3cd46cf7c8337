"""The POGEMA lifelong (LMAPF) benchmark: map sets, episodes and the evaluation harness."""
