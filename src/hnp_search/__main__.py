"""``python -m hnp_search``: the command line."""

from .cli import main

main()
