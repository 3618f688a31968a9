"""The tiny stand-in models load through the same paths as real checkpoints and behave sanely."""

from __future__ import annotations

import open_clip
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from culturalpangea.models.chat_format import IM_END, IM_START, IMAGE_TOKEN
from tiny_models.vision import TINY_CLIP_MODEL_NAME, register_tiny_open_clip

SCRIPT_SAMPLES = {
    "Latin": "Qu'est-ce qui est montré",
    "Cyrillic": "Что изображено",
    "Greek": "Τι απεικονίζεται",
    "Arabic": "ما الذي يظهر",
    "Hebrew": "מה מוצג בתמונה",
    "Devanagari": "इस चित्र में",
    "Bengali": "এই ছবিতে",
    "Tamil": "இந்தப் படத்தில்",
    "Sinhala": "මෙම රූපයේ",
    "Ethiopic": "በዚህ ምስል",
    "Thai": "ภาพนี้แสดงอะไร",
    "CJK": "这张图片显示",
    "Hangul": "이 이미지에는",
}


@pytest.mark.parametrize("script", sorted(SCRIPT_SAMPLES))
def test_tokenizer_learned_merges_for_every_script(tiny_tokenizer, script):
    text = SCRIPT_SAMPLES[script]
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tiny_tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8")), f"no merges learned for {script}"


def test_special_tokens_are_single_ids(tiny_tokenizer):
    for token in (IM_START, IM_END, IMAGE_TOKEN):
        ids = tiny_tokenizer(f"a{token}b", add_special_tokens=False)["input_ids"]
        assert tiny_tokenizer.convert_tokens_to_ids(token) in ids
        assert len(tiny_tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    assert tiny_tokenizer.eos_token == IM_END


def test_chat_template_renders_chatml_with_default_system(tiny_tokenizer):
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": "Mount Fuji"},
    ]
    text = tiny_tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<image>\nWhat is this?<|im_end|>\n"
        "<|im_start|>assistant\nMount Fuji<|im_end|>\n"
    )
    prompt = tiny_tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_tokenizer_reloads_with_autotokenizer(tiny_stack, tiny_tokenizer):
    again = AutoTokenizer.from_pretrained(tiny_stack.llm_dir)
    text = "日本 — Japan — Япония"
    assert again(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]


def test_tiny_qwen2_loads_through_from_pretrained_and_learns(tiny_stack, tiny_tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_stack.llm_dir)
    assert model.config.model_type == "qwen2" and model.config.num_hidden_layers == 2
    assert model.config.hidden_size == 64 and model.config.vocab_size == len(tiny_tokenizer)
    ids = torch.tensor([tiny_tokenizer("Mount Fuji is in Japan.")["input_ids"]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_tiny_open_clip_is_registered_and_loads_saved_weights(tiny_stack):
    assert register_tiny_open_clip() == TINY_CLIP_MODEL_NAME in open_clip.list_models()
    model = open_clip.create_model(tiny_stack.clip_model_name, pretrained=str(tiny_stack.clip_weights))
    fresh = open_clip.create_model(tiny_stack.clip_model_name, pretrained=None)
    loaded = model.visual.conv1.weight
    assert not torch.equal(loaded, fresh.visual.conv1.weight)
    assert type(model.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    tokens = model.visual(torch.zeros(1, 3, 56, 56))
    assert tokens.shape == (1, 32)
