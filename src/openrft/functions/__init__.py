"""Lambda-style reward functions: the registry, the Bedrock reward contract and the sandboxed runtime."""
