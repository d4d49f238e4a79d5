"""`python -m openusage` runs the command line."""

from openusage.cli import main

main()
