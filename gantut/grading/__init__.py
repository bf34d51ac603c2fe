"""Check functions for graded notebook cells: they explain what is wrong, not just AssertionError.

``core`` holds the building blocks and the loss/penalty checkers; each chapter family adds its
checkers in a module of its own, re-exported here so notebooks write ``from gantut import grading``
and ``grading.check_<thing>(student_fn)``.
"""
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__all__ = list(_core_all)
from .ch04_05 import *  # noqa: F401,F403,E402
from .ch04_05 import __all__ as _ch04_05_all  # noqa: E402

__all__ += list(_ch04_05_all)
from .ch03_06_07 import *  # noqa: F401,F403,E402
from .ch03_06_07 import __all__ as _ch03_06_07_all  # noqa: E402

__all__ += list(_ch03_06_07_all)
from .ch01_02 import *  # noqa: F401,F403,E402
from .ch01_02 import __all__ as _ch01_02_all  # noqa: E402

__all__ += list(_ch01_02_all)
from .ch08 import *  # noqa: F401,F403,E402
from .ch08 import __all__ as _ch08_all  # noqa: E402

__all__ += list(_ch08_all)
from .ch09 import *  # noqa: F401,F403,E402
from .ch09 import __all__ as _ch09_all  # noqa: E402

__all__ += list(_ch09_all)
from .ch10 import *  # noqa: F401,F403,E402
from .ch10 import __all__ as _ch10_all  # noqa: E402

__all__ += list(_ch10_all)
from .ch11 import *  # noqa: F401,F403,E402
from .ch11 import __all__ as _ch11_all  # noqa: E402

__all__ += list(_ch11_all)
from .ch12 import *  # noqa: F401,F403,E402
from .ch12 import __all__ as _ch12_all  # noqa: E402

__all__ += list(_ch12_all)
