"""spec/: what a user writes → a checked, loaded spec.

model (the pydantic spec language; its building blocks in fields, its gate: checks in
gate_checks) · yamlio (YAML → data with positions) · loader (a spec file → LoadedSpec, every
problem located) · check (meaning checks) · phrases (whole-word matching, for check and lint) ·
budget (what a spec expands to, counted before anything renders) · library (template forms and
paraphrase lexicons) · general_pack (general prompts) · templating (the one sandboxed Jinja2
environment).
"""
