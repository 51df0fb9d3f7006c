"""syllabus: a declarative dataset-and-eval compiler for teaching an LLM a rule."""

__version__ = "0.1.0"
