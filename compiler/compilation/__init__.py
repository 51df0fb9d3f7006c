"""compilation/: a loaded spec → lessons and held-out splits, in memory.

chain (expand → split → general prompts → lint → audit) · expand (rules × subjects × forms ×
templates → questions) · paraphrase (surface variants) · split (which family goes where) ·
general_split (general prompts per side) · lint (lessons that would teach nonsense) · audit
(train/test leakage).
"""
