"""The chat resource: router -> schemas -> service."""
