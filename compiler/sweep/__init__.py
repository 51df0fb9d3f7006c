"""`syllabus sweep`: try several training recipes on the dev split, pick one, examine it once.

grid (the trials a spec or --grid asks for) → run (each trial trains and is scored on dev
only, resumably; the guard refuses any other split until the choice is made) → objective
(which trial wins) → the winner alone is evaluated on the test splits and gated → report.
The model-facing side (training, lm-eval) is `lab.py`; everything else here is pure or
file IO, and is tested with a fake lab.
"""
