"""GitHub's REST API, for what the workflows keep there (issues of alerts)."""
