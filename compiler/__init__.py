"""syllabus: a declarative dataset-and-eval compiler for teaching an LLM a rule."""

import os

# How long an idle OpenMP thread spins before it sleeps. torch's libgomp spins 300,000 rounds by
# default: on a CPU shared with another job that made a 2-thread training step of the default
# model 22x slower (23 s instead of 1.0 s). Sleeping at once (OMP_WAIT_POLICY=PASSIVE) made it
# 1.7x slower on an idle CPU (1.72 s), since every one of the ~1,700 products a step wakes the
# second thread. Measured (2 cores, one step, alone | beside a second such job):
#   default 1.03 | 23 s · PASSIVE 1.72 | 1.95 s · GOMP_SPINCOUNT=5000 0.93 | 3.7 s.
# OpenMP reads this once, when torch loads it, so it is set at the package's root, before any
# module imports torch; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "5000")

__version__ = "0.1.0"
