"""The tiny tokenizer: byte-level BPE trained on the spot, with ChatML, `<image>` and a chat template.

Trained on a seed text in every script Pangea covers (`resources/tokenizer_corpus.txt`), so the
tokenizer splits Amharic, Sinhala or Japanese into real merges rather than bytes only; callers can
add text (the fixed instructions of a prompt) so those become few tokens, as in a real vocabulary.
The chat template is Qwen2-Instruct's, as its `tokenizer_config.json` ships it: a tokenizer owns its
template in HF's format. culturalpangea renders the same text in Python (`models/chat_format.py`);
a test keeps the two equal.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from shard_contract.tokens import END_OF_TEXT, IM_END, IM_START, IMAGE_TOKEN, SPECIAL_TOKENS

RESOURCES = resources.files("tiny_models") / "resources"
QWEN2_DEFAULT_SYSTEM = "You are a helpful assistant."

# Jinja, as transformers' `apply_chat_template` expects. `content` may be a string or a list of
# {"type": "text"|"image"} parts (the HF processor convention); images render as IMAGE_TOKEN.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{- '" + IM_START + "system\\n" + QWEN2_DEFAULT_SYSTEM + IM_END + "\\n' -}}"
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


def tokenizer_corpus_lines() -> list[str]:
    """Return the multilingual seed text (comment lines dropped, language prefixes stripped)."""
    text = (RESOURCES / "tokenizer_corpus.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [line.split(": ", 1)[-1] for line in lines]


def train_tiny_tokenizer(out_dir: Path, vocab_size: int = 1024, extra_text: list[str] | None = None) -> Path:
    """Train a byte-level BPE tokenizer with ChatML specials and save it in HF format to `out_dir`."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = tokenizer_corpus_lines() + list(extra_text or [])
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        additional_special_tokens=[IM_START, IM_END, IMAGE_TOKEN],
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    out_dir = Path(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
