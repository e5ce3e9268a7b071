"""Who is calling: API keys (Bearer) and AWS SigV4 over the same keys."""
