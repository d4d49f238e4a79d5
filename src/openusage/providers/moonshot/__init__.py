"""The Moonshot (Kimi Open Platform) API balance: a remote source (moonshot-api.md)."""
