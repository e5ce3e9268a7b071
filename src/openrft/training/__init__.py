"""The RFT engine: hyperparameters, GRPO-family losses, rollouts, the training loop, checkpoints."""
