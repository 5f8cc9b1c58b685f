"""``python -m afw`` runs the afw command line."""

from afw.cli.main import run

run()
