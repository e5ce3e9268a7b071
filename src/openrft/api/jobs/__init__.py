"""The jobs resource: router -> schemas -> service."""
