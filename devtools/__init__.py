"""Developer tools: helpers for tests and local development (not shipped)."""
