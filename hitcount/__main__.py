"""`python -m hitcount` runs the command line."""

from hitcount.cli import main

main()
