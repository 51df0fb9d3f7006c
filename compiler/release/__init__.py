"""release/: scores → a verdict, reports and an exit code.

gate (checks → Verdict) · report (text, Markdown, HTML, JUnit, model card) · breakdown (per-form
and per-item views of the scores).
"""
