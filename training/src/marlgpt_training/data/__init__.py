"""Expert data: the sharded dataset format (``records``), its loader, the parallel driver
(``generate``), training maps (``maps``) and delta data (``delta``). The environments' own
rollouts live in ``marlgpt_training.envs``."""
