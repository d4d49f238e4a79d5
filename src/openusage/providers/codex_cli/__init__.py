"""The Codex CLI provider (`~/.codex`): sessions, tokens and models from its rollout files."""
