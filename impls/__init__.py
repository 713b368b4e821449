"""ffbench's implementations of the tutorial two-layer network, behind one contract.

>>> import impls
>>> p = impls.Problem(batch=64, d_in=1000, hidden=100, d_out=10)
>>> t = impls.create("numpy", p)
>>> t.step(); t.loss() > 0
True
"""

from impls.cost import step_bytes, step_flops
from impls.memory import ProblemTooLarge
from impls.problem import TUTORIAL_SIZES, Problem
from impls.registry import Unavailable, available, create, names, unavailable_reason
from impls.threads import ThreadInfo, physical_cores, set_threads, thread_info
from impls.trainer import Trainer

__all__ = [
    "TUTORIAL_SIZES",
    "Problem",
    "ProblemTooLarge",
    "ThreadInfo",
    "Trainer",
    "Unavailable",
    "available",
    "create",
    "names",
    "physical_cores",
    "set_threads",
    "step_bytes",
    "step_flops",
    "thread_info",
    "unavailable_reason",
]
