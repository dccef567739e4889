"""Data files shipped with the portal (common-password list, demo cases)."""
