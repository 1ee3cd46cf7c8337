"""The POGEMA lifelong (LMAPF) benchmark: map sets, episodes, the evaluation harness, paired
comparison and where a policy's steps go under the soft rule (``step_outcomes``)."""
