"""spec/: what a user writes → a checked, loaded spec.

model (the pydantic spec language) · yamlio (YAML → data with positions) · loader (a spec file →
LoadedSpec, every problem located) · check (meaning checks) · budget (what a spec expands to,
counted before anything renders) · library (template forms and paraphrase lexicons) ·
general_pack (general prompts) · templating (the one sandboxed Jinja2 environment).
"""
