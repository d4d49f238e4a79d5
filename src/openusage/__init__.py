"""openusage: how much you use your AI coding agents, read from their own local files."""

__version__ = "0.1.0"
