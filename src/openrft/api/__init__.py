"""HTTP surface: routers translate requests, services decide."""
