"""Renderers: snapshots in, terminal tiles and other output forms out (no files, no SQL)."""
