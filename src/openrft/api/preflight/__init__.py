"""/v1/preflights: a reward function scored on base-model samples of a training file, before training."""
