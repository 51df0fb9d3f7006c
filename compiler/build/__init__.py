"""build/: compiled splits ↔ build/<name>/ on disk.

write (the atomic writer: data, lm-eval tasks, manifest) · read (a build folder → Build and its
rows) · tasks (the lm-eval task files and names) · stats (counts per split, rule and form).
"""
