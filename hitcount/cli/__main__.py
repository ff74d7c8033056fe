"""`python -m hitcount.cli` runs the command line."""

from hitcount.cli import main

main()
