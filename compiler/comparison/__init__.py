"""comparison/: finished run folders → how they compare (`syllabus compare RUN RUN…`).

stats (Wilson, exact McNemar, Holm) · load (run folders → verified LoadedRuns) · compare (the
verb: runs → ComparisonResult) · chart (the SVG bar chart) · render (text, Markdown, JSON, HTML)
· command (what the CLI calls: paths + options → the text it prints). Sweep trials are
compared on their dev scoring (eval/dev.json), test runs on their eval/<arm>.json.
"""
