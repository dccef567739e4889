"""The API caller's own account: who they are, their agency and timezone."""
