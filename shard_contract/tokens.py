"""The strings with a meaning to the model, defined once for both halves of the project.

`<image>` marks where a sample's image goes in its conversation (LLaVA's convention; the training
side expands it into the image's patch tokens). The ChatML markers delimit turns in Pangea's chat
format (Qwen2's `qwen_1_5` template). In a sample's text they are data like any other characters:
only the chat template may place them as control tokens, so data_gen's guards, the importers and
the tokenizer treat an occurrence inside a question, answer or label as text.
"""

IMAGE_TOKEN = "<image>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"

# The tokenizer's added special tokens, in the order a Qwen2 tokenizer lists them (plus <image>).
SPECIAL_TOKENS: tuple[str, ...] = (END_OF_TEXT, IM_START, IM_END, IMAGE_TOKEN)
