"""Kimi Code's plan quota, read with Kimi Code's own sign-in, read-only: a remote source (kimi-code-plan.md)."""
