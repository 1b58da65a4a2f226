"""The stages after pretraining, as recipes over the same model, tokenizer and trainer.

``trainer.init_from=RUN_DIR`` starts a run from a pretrained run (init_from.py): its model config,
weights and tokenizer, with new special tokens appended. Conversations (``data=qa``, ``data=chat``)
become packed examples with the loss on the assistant tokens only (sft.py); ``finetune=lora``
trains low-rank adapters through ``peft`` instead of the weights (lora.py); GRPO optimizes a
verifiable reward (grpo.py, rewards.py) with groups sampled through the KV cache (sampler.py).
"""
