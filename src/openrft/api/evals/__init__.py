"""The Evals API slice: router (routes), schemas (wire shapes), service (evals), runs (runs, output items)."""
