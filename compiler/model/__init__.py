"""model/: loading and running a causal LM (torch, transformers).

load (a model name → LoadedModel, device and precision) · greedy (batched greedy replies) ·
batching (token-budget batches and collation).
"""
