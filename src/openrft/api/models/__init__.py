"""The models resource: router -> schemas -> service."""
