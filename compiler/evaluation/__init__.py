"""evaluation/: a model (and adapter) × a build's held-out tasks → per-item scores.

arms (base, prompted and tuned arms through lm-eval) · fastlm (the fast lm-eval model) · drift
(test_general: how far the tuned model moved from the base model's replies) · constant (the
always-the-rule's-answer arm) · results (the eval files: write, read, check).
"""
