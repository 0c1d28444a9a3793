"""Models of the sub-project lifecycle (lifecycle.py) and of its technical evaluation (evaluation.py)."""

from subprojects.models.evaluation import *  # noqa: F403
from subprojects.models.evaluation import __all__ as _evaluation_all
from subprojects.models.lifecycle import *  # noqa: F403
from subprojects.models.lifecycle import __all__ as _lifecycle_all

__all__ = [*_lifecycle_all, *_evaluation_all]
