"""pytest configuration shared by the unit tests and the nbval notebook run.

The test suite executes notebooks in the ``smoke`` profile (seconds per chapter) unless the
caller chose another one, and draws figures without a display.
"""
import os

os.environ.setdefault("GANTUT_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
