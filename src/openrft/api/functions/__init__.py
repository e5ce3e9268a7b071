"""The functions resource: router -> schemas -> service."""
