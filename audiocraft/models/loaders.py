"""Checkpoint formats: the only module that reads or writes model files.

Formats: audiocraft hub files (`state_dict.bin`, `compression_state_dict.bin`) and
Hugging Face transformers folders (`config.json` + weights), from a local path or the HF
cache, with no network. Every load uses `torch.load(weights_only=True)`.
"""

# ---- shared: resolving names and paths ----

# ---- compression model ----

# ---- language model ----
