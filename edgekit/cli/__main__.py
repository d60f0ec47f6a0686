"""`python -m edgekit.cli`: the `edgekit` command."""

from edgekit.cli import main

main()
