"""The first code cell of every chapter, for hosted runtimes (Colab, Kaggle, SageMaker Studio Lab).

Where gantut is not installed, the cell clones the project's repository at the release tag and installs it
with ``%pip`` (an editable install of the clone: the shipped classifier checkpoints in ``data/`` live in the
checkout), then puts the clone on ``sys.path`` so that the next cell imports it without a restart. Where
gantut is installed (a local checkout, CI) it does nothing and prints nothing.

:data:`REPOSITORY` and :data:`TAG` are the one place the address is set: ``python scripts/sync_hosted_cell.py``
writes :func:`cell_source` into every chapter, and ``tests/test_hosted.py`` fails when a chapter's cell differs.
(The convention follows d2l and the UvA deep-learning notebooks: a guarded install cell, ``%pip`` rather than
``!pip`` so the packages land in the kernel's environment.)
"""
from __future__ import annotations

from . import __version__

__all__ = ["REPOSITORY", "TAG", "TAG_NAME", "cell_source"]

REPOSITORY = "https://github.com/gantut/gantut"
TAG = f"v{__version__}"
TAG_NAME = "hosted-install"   # the cell's metadata tag, so tools can find it

_CELL = '''# Hosted runtimes (Colab, Kaggle, ...): install gantut first. Where gantut is installed, this does nothing.
# Choose a GPU runtime before running (Colab: Runtime -> Change runtime type -> GPU); a CPU runtime uses the cpu profile.
import importlib.util, pathlib, sys
if importlib.util.find_spec("gantut") is None:
    GANTUT_HOME = pathlib.Path.cwd() / "gantut"
    if not GANTUT_HOME.exists():
        !git clone --quiet --depth 1 --branch {tag} {repository} {{GANTUT_HOME}}
    %pip install --quiet -e {{GANTUT_HOME}}
    sys.path.insert(0, str(GANTUT_HOME))'''


def cell_source() -> str:
    """The source of the hosted-install cell, with :data:`REPOSITORY` and :data:`TAG` filled in."""
    return _CELL.format(repository=REPOSITORY, tag=TAG)
