"""The organization resource: router -> schemas -> service."""
