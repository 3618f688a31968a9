"""The conversation format Pangea-7B was trained with: ChatML (LLaVA's `qwen_1_5` template).

The special strings themselves live in `shard_contract.tokens` (data_gen needs them too); this
module adds what only the model side uses, so the tokenizer builder, the data processing and the
evaluation prompts cannot drift apart. The chat template below renders the same text as Qwen2-Instruct's own
template (a default system turn "You are a helpful assistant." when none is given).
"""

from shard_contract.tokens import END_OF_TEXT, IM_END, IM_START, IMAGE_TOKEN, SPECIAL_TOKENS

__all__ = ["CHATML_TEMPLATE", "DEFAULT_SYSTEM_PROMPT", "END_OF_TEXT", "IMAGE_TOKEN", "IM_END", "IM_START",
           "SPECIAL_TOKENS"]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# Jinja, as transformers' `apply_chat_template` expects. `content` may be a string or a list of
# {"type": "text"|"image"} parts (the HF processor convention); images render as IMAGE_TOKEN.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{- '" + IM_START + "system\\n" + DEFAULT_SYSTEM_PROMPT + IM_END + "\\n' -}}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{{- '" + IM_START + "' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '" + IMAGE_TOKEN + "\\n' -}}"
    "{%- else -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '" + IM_END + "\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '" + IM_START + "assistant\\n' -}}{%- endif -%}"
)
