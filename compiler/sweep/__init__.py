"""`syllabus sweep`: try several training recipes on the dev split, pick one, examine it once.

grid (the trials a spec or --grid asks for) → run (each trial trains and is scored on dev
only, resumably; the guard refuses any other split until the choice is made) → objective
(which trial wins) → the winner alone is evaluated on the test splits and gated → report.
building (the build it runs on: the spec's dev split, or one it carves, DEFAULT_DEV_SHARE,
into build/<name>-sweep) · workers (`--worker I/N`, or torchrun / accelerate launch: each
process runs its share of the trials into one sweep folder; a plain sweep then chooses).
Each trial keeps its dev scoring in eval/dev.json, which `syllabus compare` reads.
The model-facing side (training, lm-eval) is `lab.py`; everything else here is pure or
file IO, and is tested with a fake lab.
"""
