"""The audit log resource (`GET /v1/organization/audit_logs`): router -> schemas -> service."""
