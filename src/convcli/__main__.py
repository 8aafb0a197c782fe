"""``python -m convcli``: the same as the ``convcli`` command."""

from convcli.cli import main

main()
