"""The Hugging Face bridge: export gptlab models as Hugging Face folders, import Llama/Qwen2/Qwen3/GPT-2 ones.

from gptlab.hf import from_hf, to_hf
model, tokenizer, config = from_hf("/models/tiny-llama")
to_hf(model, tokenizer, "exports/tiny-llama")
"""

from gptlab.hf.folder import Pretrained, from_hf, to_hf, to_transformers
from gptlab.hf.init import init_from, is_hf_folder, load_run

__all__ = ["Pretrained", "from_hf", "init_from", "is_hf_folder", "load_run", "to_hf", "to_transformers"]
