"""The FireWorks 2.1.4 side of the benchmarks: scripts run by the python of FireWorks' own venv.

They import fireworks and pymongo only (no afw); each takes one JSON argument, does its setup
untimed, times the measured operation, and prints one ``BENCH-RESULT {json}`` line
(:func:`benchmarks.fw_side.common.emit`). Database commands are counted by a pymongo
``CommandListener`` registered globally before FireWorks creates its client.
"""
