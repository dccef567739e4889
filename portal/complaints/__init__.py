"""The complaints register: debtors' complaints against an agency, a collector or a case."""
