"""Local backends: transformers on the tiny Qwen2 and tiny LLaVA-NeXT; vLLM's import guard and output reading."""

from __future__ import annotations

import shutil
import sys
from types import SimpleNamespace

import pytest

from data_gen.backends import make_text_generator, make_yes_no_scorer, resolve_tiny
from data_gen.backends.base import BackendError, BackendSettings, VisionRequest
from data_gen.backends.prompts import RefineItem, p_yes_from_logprobs, p_yes_from_text, refine_messages, yes_no_class
from data_gen.backends.transformers_backend import TransformersTextGenerator, TransformersYesNoScorer
from data_gen.backends.vllm_backend import generation_from_output, import_vllm, score_from_output
from tests.helpers.refine_records import jpeg, make_record
from tests.helpers.tiny_hf_vlm import tiny_llm_dir, tiny_vlm_dir


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return tiny_llm_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def vlm_dir(tmp_path_factory):
    return tiny_vlm_dir(tmp_path_factory)


def local(model, **overrides: object) -> BackendSettings:
    return BackendSettings(**{"backend": "transformers", "model": str(model), "device": "cpu", **overrides})


def test_batched_left_padded_generation_matches_one_by_one(llm_dir):
    conversations = [refine_messages(RefineItem.from_record(make_record(i))) for i in (0, 3, 6, 1, 8)]
    batched = TransformersTextGenerator(local(llm_dir, batch_size=4)).generate(conversations, max_new_tokens=6)
    single = TransformersTextGenerator(local(llm_dir, batch_size=1))
    alone = [single.generate([c], max_new_tokens=6)[0] for c in conversations]
    assert [g.text for g in batched] == [g.text for g in alone]
    assert all(g.finish_reason in ("stop", "length") and g.error is None for g in batched)
    assert any(g.text for g in batched)


def test_tiny_vlm_scores_are_probabilities_and_batch_independent(vlm_dir):
    sizes = [(60 + 20 * i, 45) for i in range(5)]
    requests = [VisionRequest(f"Which city is this {i}?", f"City {i}", jpeg(i, size=s)) for i, s in enumerate(sizes)]
    batched = TransformersYesNoScorer(local(vlm_dir, batch_size=3)).score(requests)
    single = TransformersYesNoScorer(local(vlm_dir, batch_size=1))
    alone = [single.score([r])[0] for r in requests]
    assert all(s.source == "logits" and 0.0 <= s.p_yes <= 1.0 for s in batched)
    assert [s.p_yes for s in batched] == pytest.approx([s.p_yes for s in alone], abs=1e-5)
    assert len({round(s.p_yes, 6) for s in batched}) > 1  # depends on the input


def test_vlm_tokenizer_without_single_token_yes_no_is_refused(vlm_dir, tiny_stack, tmp_path):
    broken = tmp_path / "vlm"
    shutil.copytree(vlm_dir, broken)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_stack.tokenizer_dir / name, broken / name)
    with pytest.raises(BackendError, match="single-token 'Yes'/'No'"):
        TransformersYesNoScorer(local(broken))


def test_model_tiny_is_built_once_under_the_run_folder(tmp_path):
    settings = BackendSettings(backend="transformers", model="tiny", device="cpu")
    resolved = resolve_tiny(settings, tmp_path / "tiny_models", "llm")
    assert resolved.model == str(tmp_path / "tiny_models" / "refine_llm")
    assert (tmp_path / "tiny_models" / "refine_llm" / "config.json").exists()
    assert not [p for p in (tmp_path / "tiny_models").iterdir() if p.name.startswith(".")]
    assert isinstance(make_text_generator(resolved), TransformersTextGenerator)
    with pytest.raises(BackendError, match="backend=transformers"):
        resolve_tiny(BackendSettings(backend="http", model="tiny", url="http://127.0.0.1:1/v1"), tmp_path, "llm")


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match=r"has no config\.json"):
        make_yes_no_scorer(local(tmp_path / "nowhere"))


def test_vllm_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if not installed, whatever this machine has
    with pytest.raises(BackendError, match=r"pip install 'culturalpangea\[refine\]'"):
        import_vllm()
    with pytest.raises(BackendError, match="refine"):
        make_text_generator(BackendSettings(backend="vllm", model="/models/qwen"))


def test_vllm_outputs_are_read_through_documented_fields():
    # vLLM cannot run here (no GPU, not installed); its RequestOutput is rebuilt from the documented fields.
    def logprob(value: float, token: str) -> SimpleNamespace:
        return SimpleNamespace(logprob=value, decoded_token=token)

    text_out = SimpleNamespace(outputs=[SimpleNamespace(text='{"question": "q"}', finish_reason="length")])
    assert generation_from_output(text_out).finish_reason == "length"
    steps = [{11: logprob(-0.1, "Yes"), 12: logprob(-2.5, "No"), 13: logprob(-4.0, " yes")}]
    scored = score_from_output(SimpleNamespace(outputs=[SimpleNamespace(text="Yes", logprobs=steps)]))
    assert scored.source == "logprobs" and scored.p_yes == pytest.approx(p_yes_from_logprobs(
        {"Yes": -0.1, "No": -2.5, " yes": -4.0}))  # fmt: skip
    no_logprobs = score_from_output(SimpleNamespace(outputs=[SimpleNamespace(text="no", logprobs=None)]))
    assert (no_logprobs.p_yes, no_logprobs.source) == (0.0, "text")


def test_yes_no_reading():
    assert [yes_no_class(t) for t in ("Yes", " yes", "YES.", "No", " no", "Not", "Y")] == [
        "yes", "yes", "yes", "no", "no", None, None]  # fmt: skip
    assert p_yes_from_logprobs({"Maybe": -0.1}) is None
    assert p_yes_from_logprobs({"Yes": -0.6931471805599453, "no": -0.6931471805599453}) == pytest.approx(0.5)
    assert [p_yes_from_text(t) for t in ("Yes, it is.", "no", "Unclear", "", None)] == [1.0, 0.0, None, None, None]


@pytest.mark.gpu
def test_transformers_backends_on_cuda_in_bfloat16(llm_dir, vlm_dir):
    # GPU twin of the CPU tests above: same code paths with device placement and a bf16 cast.
    conversations = [refine_messages(RefineItem.from_record(make_record(i))) for i in range(4)]
    gpu = {"device": "cuda", "dtype": "bfloat16", "batch_size": 2}
    generations = TransformersTextGenerator(local(llm_dir, **gpu)).generate(conversations, max_new_tokens=4)
    assert len(generations) == 4 and all(g.finish_reason in ("stop", "length") for g in generations)
    requests = [VisionRequest(f"Question {i}?", "answer", jpeg(i)) for i in range(3)]
    scores = TransformersYesNoScorer(local(vlm_dir, **gpu)).score(requests)
    assert all(s.source == "logits" and 0.0 <= s.p_yes <= 1.0 for s in scores)


def test_real_run_defaults_follow_the_model_not_the_demo():
    """Issue 17: the documented real-run overrides kept the demo's 16 new tokens, so every JSON reply of a
    real refiner was cut (`truncated`: a template-only dataset), and the filter's threshold stayed 0.0."""
    from data_gen.common.settings import settings_from
    from data_gen.filter.relevance import FilterSettings
    from data_gen.refine.rewrite import RefineSettings

    block = {"backend": "transformers", "max_new_tokens": None}
    assert settings_from(RefineSettings, {**block, "model": "tiny"}).max_new_tokens == 16
    real = settings_from(RefineSettings, {**block, "model": "Qwen/Qwen2.5-72B-Instruct"})
    assert real.max_new_tokens is None and real.needs_budget_check  # sized from the data by the stage (budget.py)
    assert settings_from(RefineSettings, {**block, "model": "m", "max_new_tokens": 64}).max_new_tokens == 64
    assert settings_from(FilterSettings, {"backend": "transformers", "model": "tiny"}).threshold == 0.0
    assert settings_from(FilterSettings, {"backend": "http", "url": "http://h/v1", "model": "vlm"}).threshold == 0.5
    assert settings_from(FilterSettings, {"backend": "none", "threshold": 0.3}).threshold == 0.3
