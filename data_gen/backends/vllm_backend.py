"""vLLM offline backend: the model runs inside the stage process (one GPU node, no server to manage).

Optional: vLLM is the `refine` extra (`pip install 'culturalpangea[refine]'`) and is imported only
when `backend=vllm` is chosen, with a one-line error naming the extra when it is missing. Prompts
are the same chat messages as every other backend (`data_gen.backends.prompts`), handed to
`LLM.chat`, which applies the model's own chat template; images travel as the same base64
`image_url` parts as over HTTP. Prefix caching is switched on explicitly so the fixed instruction
prefix is computed once per node. Greedy decoding (temperature 0, fixed seed) keeps re-runs of a
part as repeatable as the engine allows.

The conversion of vLLM's output objects into `Generation`/`Score` is kept in two small functions
that read only the documented attributes (`outputs[0].text`, `.finish_reason`, `.logprobs[0]`
as `{token_id: Logprob(logprob, decoded_token)}`), so it is tested without a GPU.
"""

from __future__ import annotations

from typing import Any

from data_gen.backends.base import BackendError, BackendSettings, Generation, Message, Score, VisionRequest
from data_gen.backends.prompts import data_url_part, filter_messages, p_yes_from_logprobs, p_yes_from_text

INSTALL_HINT = "backend=vllm needs vLLM, the optional 'refine' extra: pip install 'culturalpangea[refine]'"


def import_vllm() -> Any:
    """The `vllm` module, or a BackendError saying how to install it."""
    try:
        import vllm
    except ImportError as error:
        raise BackendError(f"{INSTALL_HINT} ({error})") from None
    return vllm


def _engine(settings: BackendSettings, **extra: Any) -> Any:
    vllm = import_vllm()
    kwargs: dict[str, Any] = {
        "model": settings.model,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "enable_prefix_caching": True,
        "seed": 0,
        **extra,
    }
    if settings.max_model_len:
        kwargs["max_model_len"] = settings.max_model_len
    return vllm.LLM(**kwargs)


def generation_from_output(output: Any) -> Generation:
    """A `Generation` from one `vllm.RequestOutput`."""
    completion = output.outputs[0]
    return Generation(completion.text, completion.finish_reason)


def score_from_output(output: Any) -> Score:
    """A `Score` from one `vllm.RequestOutput` generated with `logprobs=k`, `max_tokens=1`."""
    completion = output.outputs[0]
    steps = completion.logprobs or []
    table = {}
    if steps:
        for entry in steps[0].values():
            token = getattr(entry, "decoded_token", None)
            if isinstance(token, str):
                table[token] = max(table.get(token, float("-inf")), float(entry.logprob))
    p_yes = p_yes_from_logprobs(table) if table else None
    if p_yes is not None:
        return Score(p_yes, "logprobs", completion.text)
    return Score(p_yes_from_text(completion.text), "text", completion.text)


class VllmTextGenerator:
    """Refinement with `vllm.LLM.chat` over all conversations of a part at once."""

    def __init__(self, settings: BackendSettings) -> None:
        self.vllm = import_vllm()
        self.llm = _engine(settings)

    def generate(self, conversations: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        params = self.vllm.SamplingParams(temperature=0.0, max_tokens=max_new_tokens, seed=0)
        outputs = self.llm.chat(conversations, params, use_tqdm=False)
        return [generation_from_output(output) for output in outputs]

    def close(self) -> None:
        del self.llm


class VllmYesNoScorer:
    """Relevance with `vllm.LLM.chat`, one token, the top log-probabilities of the first position."""

    def __init__(self, settings: BackendSettings, top_logprobs: int = 20) -> None:
        self.vllm = import_vllm()
        self.top_logprobs = top_logprobs
        self.llm = _engine(settings, limit_mm_per_prompt={"image": 1})

    def score(self, requests: list[VisionRequest]) -> list[Score]:
        params = self.vllm.SamplingParams(temperature=0.0, max_tokens=1, logprobs=self.top_logprobs, seed=0)
        conversations = [filter_messages(r.question, r.answer, data_url_part(r.jpeg), r.entity) for r in requests]
        outputs = self.llm.chat(conversations, params, use_tqdm=False)
        return [score_from_output(output) for output in outputs]

    def close(self) -> None:
        del self.llm
