"""release/: a run folder → a verdict, reports and an exit code.

verify (run folder → VerifiedRun) · judge (VerifiedRun → Verdict + ReportContext) · gate
(checks → Verdict: decide) · checks (one check kind → CheckResult) · verdict (the Verdict
types) · breakdown (per-form and per-item views of the scores) · report (writes every file)
with its renderers: context, formatting, text_report (text, Markdown), html_report,
ci_files (verdict.json, junit.xml, --baseline), model_card.
"""
