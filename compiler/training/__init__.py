"""training/: a build's lessons → a LoRA adapter (peft).

lora (the training run, checkpoints) · record (run.json: RunRecord, its one codec) · replies
(the model's own replies to general prompts, written at train time and cached).
"""
