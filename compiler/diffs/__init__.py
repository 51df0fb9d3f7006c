"""diffs/: two builds (or a spec and a git revision) → what changed.

sides (a build as the diff reads it) · compare (the diff itself) · render (text, Markdown, JSON) · gitrev (a spec's text at a revision).
"""
