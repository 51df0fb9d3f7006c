"""training/: a build's lessons → a LoRA adapter (peft).

lora (the training run, checkpoints, run.json) · replies (the model's own replies to general
prompts, written at train time and cached).
"""
