"""``python -m omskit_reference``: the ``omskit-reference`` command."""

from omskit_reference.cli import main

main()
