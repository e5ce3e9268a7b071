"""The `openrft` command line (Typer): the server, workers, the quickstart, and HTTP API clients."""
