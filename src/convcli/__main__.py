"""``python -m convcli``: the same as the ``convcli`` command."""

from convcli.cli import main  # the command line's entry point

main()
