"""Accounts: users, roles, logins, passwords and API tokens."""
