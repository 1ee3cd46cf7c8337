"""Expert data: training maps, environment rollouts and the sharded dataset format."""
