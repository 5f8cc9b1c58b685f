"""The ``afw`` command line: ``afw lpad ...``, ``afw rlaunch ...``, ``afw qlaunch ...``."""
