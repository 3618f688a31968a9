"""The conversation format Pangea-7B was trained with: ChatML (LLaVA's `qwen_1_5` template).

One place for the special strings so the tokenizer builder, the data processing and the evaluation
prompts cannot drift apart. The chat template below renders the same text as Qwen2-Instruct's own
template (a default system turn "You are a helpful assistant." when none is given).
"""

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"
IMAGE_TOKEN = "<image>"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

SPECIAL_TOKENS: tuple[str, ...] = (END_OF_TEXT, IM_START, IM_END, IMAGE_TOKEN)

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
