"""Generation: KV cache equals no cache, left-padded batches equal single requests, HF's greedy output, stops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LlavaNextForConditionalGeneration

from culturalpangea.data.conversation import render_chatml
from culturalpangea.data.image_processing import normalize_pixels
from culturalpangea.models.chat_format import IM_END
from culturalpangea.models.generation import (
    GenerationRequest,
    generate_batch,
    generate_ids,
    prepare_generation_inputs,
    render_prompt,
    stop_token_ids,
)
from culturalpangea.models.loading import load_pretrained_vlm


@pytest.fixture(scope="module")
def loaded(tiny_llava_next):
    return load_pretrained_vlm(tiny_llava_next)


def _image(height: int, width: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


REQUESTS = [
    GenerationRequest([{"role": "user", "content": "What is shown here?"}], [_image(40, 90, 0)]),
    GenerationRequest([{"role": "user", "content": "Compare <image> with <image>, in detail please."}],
                      [_image(90, 40, 1), _image(60, 60, 2)]),
    GenerationRequest([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hi"}], []),
]


def _ids(loaded, requests, use_cache=True, max_new_tokens=12, stop_ids=()):
    inputs = prepare_generation_inputs(loaded, requests)
    with torch.inference_mode():
        return generate_ids(loaded.model, inputs, max_new_tokens, list(stop_ids), loaded.tokenizer.pad_token_id,
                            use_cache)


def test_kv_cache_greedy_equals_no_cache(loaded):
    cached, uncached = _ids(loaded, REQUESTS), _ids(loaded, REQUESTS, use_cache=False)
    assert cached.shape == (3, 12) and torch.equal(cached, uncached)


def test_left_padded_batch_equals_each_request_alone(loaded):
    batch = _ids(loaded, REQUESTS)
    for row, request in enumerate(REQUESTS):
        assert torch.equal(batch[row], _ids(loaded, [request])[0]), row
    texts = generate_batch(loaded, REQUESTS, max_new_tokens=8)
    assert texts == [generate_batch(loaded, [request], max_new_tokens=8)[0] for request in REQUESTS]


def test_greedy_tokens_equal_hf_llava_next_generate(loaded, tiny_llava_next):
    hf = LlavaNextForConditionalGeneration.from_pretrained(tiny_llava_next).eval()
    for request in REQUESTS[:2]:
        inputs = prepare_generation_inputs(loaded, [request])
        with torch.inference_mode():
            expected = hf.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                   pixel_values=normalize_pixels(inputs["pixel_values"]),
                                   image_sizes=inputs["image_sizes"], max_new_tokens=10, do_sample=False,
                                   eos_token_id=stop_token_ids(loaded), pad_token_id=loaded.tokenizer.pad_token_id)
        new = expected[0, inputs["input_ids"].shape[1]:]
        assert torch.equal(_ids(loaded, [request], max_new_tokens=10)[0, : new.numel()], new)


def test_a_row_stops_at_its_stop_token_and_the_loop_ends_when_all_stopped(loaded):
    free = _ids(loaded, REQUESTS[:1], max_new_tokens=12)
    stop = int(free[0, 3])
    first = int((free[0] == stop).nonzero()[0])
    stopped = _ids(loaded, REQUESTS[:1], max_new_tokens=12, stop_ids=[stop])
    assert stopped.shape[1] == first + 1 and int(stopped[0, -1]) == stop
    both = _ids(loaded, REQUESTS[:2], max_new_tokens=12, stop_ids=[stop])
    assert torch.all(both[0, first + 1:] == loaded.tokenizer.pad_token_id)
    assert loaded.tokenizer.convert_tokens_to_ids(IM_END) in stop_token_ids(loaded)


def test_sampling_is_seeded_and_top_p_near_zero_is_greedy(loaded):
    sampled = [generate_batch(loaded, REQUESTS, max_new_tokens=10, do_sample=True, temperature=1.5, seed=s)
               for s in (1, 1, 2)]
    assert sampled[0] == sampled[1] and sampled[0] != sampled[2]
    greedy = generate_batch(loaded, REQUESTS, max_new_tokens=10)
    assert generate_batch(loaded, REQUESTS, max_new_tokens=10, do_sample=True, top_p=1e-9, seed=3) == greedy
    with pytest.raises(ValueError, match="temperature > 0"):
        generate_batch(loaded, REQUESTS, do_sample=True, temperature=0.0)


def test_prompt_is_the_training_rendering_plus_the_assistant_header():
    prompt = render_prompt([{"role": "user", "content": "Where is this?"}], num_images=2).text
    training = render_chatml([{"from": "human", "value": "<image>\n<image>\nWhere is this?"},
                              {"from": "gpt", "value": "Kyoto"}], num_images=2).text
    assert training.startswith(prompt) and prompt.endswith("<|im_start|>assistant\n")
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    with pytest.raises(ValueError, match="2 image placeholders for 1 images"):
        render_prompt([{"role": "user", "content": "<image><image>"}], num_images=1)
    with pytest.raises(ValueError, match="end with one"):
        render_prompt([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], num_images=0)
    with pytest.raises(ValueError, match="placeholder in a assistant turn"):
        render_prompt([{"role": "assistant", "content": "<image>"}, {"role": "user", "content": "q"}], 1)


def test_bad_request_names_its_index(loaded):
    bad = GenerationRequest([{"role": "user", "content": "<image> <image>"}], [_image(30, 30, 5)])
    with pytest.raises(ValueError, match="request 1: 2 image placeholders"):
        generate_batch(loaded, [REQUESTS[2], bad])
    assert generate_batch(loaded, []) == []


def test_generation_from_a_model_in_training_with_checkpointing(tiny_model_cfg):
    from culturalpangea.models.builder import build_vlm
    from culturalpangea.models.loading import LoadedVLM

    model = build_vlm({**tiny_model_cfg, "llm": {**tiny_model_cfg["llm"], "gradient_checkpointing": True}}).train()
    loaded = LoadedVLM(model, model.tokenizer, model.image_preprocessor)
    cached = generate_batch(loaded, REQUESTS, max_new_tokens=6)
    assert model.training and not model.vision.training
    assert cached == generate_batch(loaded, REQUESTS, max_new_tokens=6, use_cache=False)
