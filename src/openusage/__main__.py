"""`python -m openusage` runs the command line, as the console script does."""

from openusage.launch import main

main()
