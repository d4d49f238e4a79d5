"""Benchmark harness for openusage: a realistic Kimi CLI corpus generator and a timing runner.

`python -m bench.corpus OUT_DIR ...` writes a deterministic Kimi CLI home; `python -m bench` times
`cat` (the read limit) against openusage cold, first-run, warm and warm-after-append on one corpus.
See bench/README.md.
"""
