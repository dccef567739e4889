"""Built-in partner-format adapters; each package is a pure translator registered by entry point."""
