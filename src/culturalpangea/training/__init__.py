"""Training assembly: trainer, loggers, checkpoints and callbacks built from the Hydra config."""
