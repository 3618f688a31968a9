"""The conversation format Pangea-7B was trained with: ChatML (LLaVA's `qwen_1_5` template).

The special strings live in `shard_contract.tokens` (data_gen needs them too) and are re-exported
here with what only the model side adds, the default system turn, so the data processing and the
evaluation prompts cannot drift apart. `data/conversation.py` renders a conversation the way
Qwen2-Instruct's chat template does (a default system turn "You are a helpful assistant." when
none is given); a test keeps that equal to the tokenizer's own template.
"""

from shard_contract.tokens import END_OF_TEXT, IM_END, IM_START, IMAGE_TOKEN, SPECIAL_TOKENS

__all__ = ["DEFAULT_SYSTEM_PROMPT", "END_OF_TEXT", "IMAGE_TOKEN", "IM_END", "IM_START", "SPECIAL_TOKENS"]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
