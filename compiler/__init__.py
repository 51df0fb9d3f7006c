"""syllabus: a declarative dataset-and-eval compiler for teaching an LLM a rule."""

import os

# Idle OpenMP threads sleep instead of spinning. On a CPU shared with other jobs, spinning
# made a 2-thread SmolLM2 training step (batch 8) 8-18x slower: 20-44 s instead of 2.4 s.
# OpenMP reads this once, when torch loads it, so it is set at the package's root, before
# any module imports torch; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
