"""`syllabus export BUILD|RUN DEST [--merged] [--push REPO]`: a build or a run → a clean folder
ready for the Hugging Face Hub (folder.py), and optionally uploaded there (push.py).

No torch on import: merging weights (--merged) loads them lazily through training/portable.py.
"""

from .folder import ExportResult, export

__all__ = ["ExportResult", "export"]
