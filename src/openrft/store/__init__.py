"""Durable state: the SQL store (SQLite by default, Postgres by URL) and blobs on disk."""
