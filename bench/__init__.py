"""Benchmark harness for openusage: realistic corpus generators and a timing runner.

`python -m bench.corpus OUT_DIR ...` writes a deterministic Kimi CLI home, `python -m bench.corpus_code
OUT_DIR ...` a Kimi Code home; `python -m bench [--provider kimi_code]` times `cat` (the read limit)
against openusage cold, first-run, warm and warm-after-append on one corpus; `python -m bench.verify`
checks a corpus independently. See bench/README.md.
"""
