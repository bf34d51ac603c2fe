"""gantut: the helper package of the gantut notebooks (training GANs that do not collapse)."""
__version__ = "0.1.0"

from .config import (  # noqa: F401
    by_profile,
    data_dir,
    device,
    profile,
    runs_dir,
    seed_everything,
    setup,
)
from .train import History, StopTraining, every, fit, run_path  # noqa: F401,E402
from .outputs import save_metrics  # noqa: F401,E402
