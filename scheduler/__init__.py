"""The beat-like process: dispatch due runs exactly once per slot, and sweep."""
