"""The files resource: router -> schemas -> service."""
