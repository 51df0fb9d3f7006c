"""build/: compiled splits ↔ build/<name>/ on disk.

write (the atomic writer: data, lm-eval tasks, manifest) · ownership (which --out folders and
temp folders compile may replace or remove) · read (a build folder → Build and its
rows) · tasks (the lm-eval task files and names) · stats (counts per split, rule and form).
"""
