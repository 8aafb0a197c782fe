"""``python -m convcli``: the same as the ``convcli`` command."""

from convcli.cli import main  # noqa: TID251 (this is the command line's entry point)

main()
