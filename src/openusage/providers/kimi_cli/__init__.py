"""The Kimi CLI provider (`~/.kimi`): sessions, tokens and models from its wire.jsonl files."""
