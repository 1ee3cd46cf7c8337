"""Online fine-tuning (``marlgpt finetune``): PPO from a pretrained checkpoint.

The paper's recipe (sections 4.3 and 7.2.3): the offline critic is not reused; a fresh one
learns from online rollouts while the pretrained actor is frozen (``warmup_updates``), then
actor and critic are fine-tuned together with PPO.

- :mod:`.config`: the YAML config (``training/configs/finetune-tiny.yaml``);
- :mod:`.vector`: a synchronous vector of episodes, padded to a fixed number of agents;
- :mod:`.foraging`, :mod:`.lifelong`: the episodes of Level-Based Foraging and of POGEMA
  lifelong MAPF (settled by the fleet's step rule); :mod:`.worlds`: the registry of both;
- :mod:`.rollout`: collecting a batch of steps with the model, and GAE;
- :mod:`.ppo`: the losses (clipped surrogate, value, entropy) and the actor freeze;
- :mod:`.loop`: the update loop, checkpoints, resume, DDP, logging.
"""
