#!/usr/bin/env python3
"""PEFT's trainable-parameter counts on SmolLM2-135M's shape, the reference for `effilora params`
(and AdapterFileTests.testParameterAccounting).

Builds LlamaForCausalLM with SmolLM2-135M-Instruct's configuration on the meta device (no
weights), wraps it with PEFT 0.21.2 and prints get_nb_trainable_parameters() (shared tensors, such
as Lily's, counted once) for each configuration, all seven projections adapted.

Usage: .venv-crosscheck/bin/python scripts/reference_peft_counts.py
"""
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from peft import LilyConfig, LoraConfig, get_peft_model  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

SMOLLM2 = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CASES = [
    ("lora r 8", "--method lora", LoraConfig(r=8, target_modules=TARGETS)),
    ("dora r 8", "--method dora", LoraConfig(r=8, target_modules=TARGETS, use_dora=True)),
    ("lily r 8, stride_A 1, num_B 2", "--method lily --rank 8", LilyConfig(r=8, target_modules=TARGETS)),
    ("lily PEFT defaults (r 32, stride_A 1, num_B 2)", "--method lily", LilyConfig(target_modules=TARGETS)),
    ("lily r 16, stride_A 2, num_B 4", "--method lily --rank 16 --stride-a 2 --num-b 4",
     LilyConfig(r=16, stride_A=2, num_B=4, target_modules=TARGETS)),
]

for name, ours, config in CASES:
    with torch.device("meta"):
        model = LlamaForCausalLM(SMOLLM2)
    trainable, _ = get_peft_model(model, config).get_nb_trainable_parameters()
    print(f"{name}: {trainable}   (effilora params --model SmolLM2 {ours})")
