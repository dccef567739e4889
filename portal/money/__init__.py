"""Money that moves: settlements reported by agencies (later: verification and commission)."""
