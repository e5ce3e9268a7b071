"""The organization API for IAM roles and policies (admin key)."""
