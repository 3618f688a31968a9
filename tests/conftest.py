"""Fixtures shared by every suite: tiny models, the Wikidata sample, and loopback servers.

Everything runs offline: models are built from configs (random weights) and saved, then loaded
back through the normal `from_pretrained` / open_clip paths; the SPARQL endpoint is a real
`oxigraph serve` on 127.0.0.1; images come from a local HTTP server that injects faults on demand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Offline and quiet by default, whatever the caller's environment says.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_stack(tmp_path_factory: pytest.TempPathFactory):
    """Tokenizer, 2-layer Qwen2 and tiny open_clip ViT saved to disk (see the tiny_models package)."""
    from tiny_models.stack import build_tiny_stack

    return build_tiny_stack(tmp_path_factory.mktemp("tiny_stack"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_stack):
    """The tiny tokenizer reloaded with AutoTokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_stack.tokenizer_dir)


@pytest.fixture(scope="session")
def sample_turtle_path() -> Path:
    """Path of the embedded Wikidata sample shipped with data_gen."""
    from data_gen.wikidata.sample_store import sample_path

    return sample_path()


@pytest.fixture(scope="session")
def sample_store():
    """The embedded sample in an in-process pyoxigraph store (the default endpoint)."""
    from data_gen.wikidata.sample_store import load_sample_store

    return load_sample_store()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `oxigraph serve` on loopback loaded with the sample; yields its SPARQL query URL."""
    from data_gen.wikidata.sample_store import sample_turtle_bytes
    from tests.helpers.oxigraph_server import OxigraphServer

    with OxigraphServer(tmp_path_factory.mktemp("oxigraph")) as server:
        server.load_turtle(sample_turtle_bytes())
        yield server.query_url


@pytest.fixture(scope="session")
def snippet_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `oxigraph serve` on loopback loaded with the hand-written snippet; yields its query URL."""
    from tests.helpers.oxigraph_server import OxigraphServer
    from tests.helpers.wikidata_snippet import TURTLE

    with OxigraphServer(tmp_path_factory.mktemp("oxigraph_snippet")) as server:
        server.load_turtle(TURTLE)
        yield server.query_url


@pytest.fixture
def image_server() -> Iterator[object]:
    """A loopback HTTP server that serves generated JPEGs and injects faults on demand."""
    from tests.helpers.image_server import FaultyImageServer

    with FaultyImageServer() as server:
        yield server


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real one-node SLURM cluster (munged, slurmctld, slurmd) on loopback, for the session."""
    from tests.helpers.slurm_cluster import SlurmCluster, available

    reason = available()
    if reason:
        pytest.skip(reason)
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def tiny_llava_next(tiny_stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny HF LlavaNext folder (tiny ViT + tiny Qwen2, anyres) with tokenizer and processor."""
    from tiny_models.llava_next import build_tiny_llava_next

    return build_tiny_llava_next(tmp_path_factory.mktemp("tiny_llava_next") / "hf", tiny_stack.tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_model_cfg(tiny_stack) -> dict:
    """The `model=tiny` config group as build_vlm receives it, pointing at the session's tiny stack."""
    from tiny_models.llava_next import TINY_GRID_PINPOINTS

    return {
        "vision": {"open_clip_name": tiny_stack.clip_model_name, "weights": str(tiny_stack.clip_weights),
                   "open_clip_config": str(tiny_stack.clip_config),
                   "image_size": 56, "feature_layer": -2, "select": "patch", "frozen": True},
        "connector": {"type": "mlp2x_gelu"},
        "llm": {"path": str(tiny_stack.llm_dir), "attn_implementation": "sdpa", "gradient_checkpointing": False},
        "anyres": {"enabled": True, "grid_pinpoints": [list(p) for p in TINY_GRID_PINPOINTS],
                   "patch_merge": "spatial_unpad", "image_newline": True},
        "init_from_hf": None,
    }
