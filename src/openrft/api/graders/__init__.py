"""The graders resource: router -> schemas -> service."""
