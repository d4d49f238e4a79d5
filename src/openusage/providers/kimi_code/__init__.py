"""The Kimi Code provider (`~/.kimi-code`): sessions, tokens and models from its agents' journals."""
