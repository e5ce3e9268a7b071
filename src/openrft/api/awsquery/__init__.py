"""AWS query protocol (IAM, STS) at `POST /`."""
