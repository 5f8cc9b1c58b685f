"""afw benchmarks: recovery sweeps, checkout and fan-in at 1k-100k scale, beside FireWorks 2.1.4.

Run ``python -m benchmarks --help``; ``benchmarks/README.md`` explains the scenarios and shows the
latest figures. This package imports nothing heavy at import time: the FireWorks side
(:mod:`benchmarks.fw_side`) runs under FireWorks' own virtual environment, which has no afw.

Modules:

* :mod:`benchmarks.plan`: what to generate (pure): runs, their states, workflow shapes;
* :mod:`benchmarks.content`: launch-dir file bytes in afw's and FireWorks' formats;
* :mod:`benchmarks.generate`: store documents (through afw's store API) and launch dirs;
* :mod:`benchmarks.counting`: database command counters (pymongo listener, store proxy);
* :mod:`benchmarks.afw_side`: the measured afw operations, one fresh process each;
* :mod:`benchmarks.fw_side`: the measured FireWorks operations, one fresh process each;
* :mod:`benchmarks.scenarios`: the four scenarios; :mod:`benchmarks.results`: tables, JSON, plot.
"""
