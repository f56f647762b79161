"""Training: the LightningModules, the train() function, checkpoints."""
