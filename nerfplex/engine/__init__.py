"""Training loop, optimisation, checkpoints, logging, evaluation during training."""
