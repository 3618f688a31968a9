"""Issue 15 §8, the smaller faults: odd tar keys, degenerate images, a seeded first run, and others."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict
from PIL import Image

from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.data.image_processing import SingleResolutionPreprocessor
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.data.skips import take_skip_counts
from culturalpangea.data.tar_reader import tar_samples
from tests.helpers.shard_samples import make_sample


def _tar(path, members):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_tar_keys_with_a_newline_or_bytes_that_are_not_utf8_are_skipped_and_counted(tmp_path):
    sample = json.dumps(make_sample(1, with_image=False).sample).encode()
    _tar(tmp_path / "a.tar", [("good.json", sample), ("line\nbreak.json", sample), ("bad\udcff.json", sample)])
    take_skip_counts()
    keys = [s["__key__"] for s in tar_samples([(str(tmp_path / "a.tar"), 1)])]
    assert keys == ["good"]
    assert take_skip_counts() == {"tar:bad_member_name": 2}


def _jpeg(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 60, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(("size", "reason"), [((1, 1), "image_too_small"), ((8000, 2), "image_too_small"),
                                              ((4000, 40), "image_aspect_ratio")])
def test_degenerate_images_are_skipped_not_trained_on(tiny_tokenizer, size, reason):
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=512)
    raw = {"__key__": "k", "json": json.dumps(make_sample(1).sample).encode(), "jpg": _jpeg(*size)}
    take_skip_counts()
    assert processor(raw) is None and take_skip_counts() == {reason: 1}
    assert processor({**raw, "jpg": _jpeg(64, 48)}) is not None


def test_an_endpoint_password_never_reaches_an_error_line():
    from data_gen.wikidata.client import EndpointBackend, EndpointUnavailableError, SparqlClient, SparqlSettings
    from tests.helpers.ports import free_loopback_port

    url = f"http://reader:s3cret@127.0.0.1:{free_loopback_port()}/sparql"
    settings = SparqlSettings(url=url, user_agent="CP-tests/0.1 (https://example.org; t@example.org)",
                              max_attempts=1)
    backend = EndpointBackend(settings)
    assert "s3cret" not in backend.key and backend.key.startswith("http://reader:***@127.0.0.1")
    with pytest.raises(EndpointUnavailableError) as error:
        SparqlClient(backend, settings).select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    assert "s3cret" not in str(error.value) and "***" in str(error.value)


def test_the_first_run_starts_from_the_same_weights_as_later_runs(tmp_path):
    """Building the tiny stand-ins consumed random numbers after the seed: the first run's connector differed."""
    from culturalpangea.train import build_run
    from tests.helpers.train_workspace import write_training_shards

    register_resolvers()
    for folder in ("open", "mcq"):  # the demo's two sources: build_run checks them before any model is built
        write_training_shards(tmp_path / "data" / "shards" / folder, count=8)
    weights = []
    for attempt in ("first", "second"):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name="train.yaml", overrides=[
                "experiment=demo", f"paths.root_dir={tmp_path}", f"paths.data_dir={tmp_path}/data",
                f"paths.output_dir={tmp_path}/{attempt}",
                f"model.tiny_root={tmp_path}/tiny", "logger=none"])
        with open_dict(cfg):
            cfg.pop("hydra", None)
        run = build_run(cfg, tmp_path / attempt)  # the first call builds the tiny stack, the second reuses it
        weights.append(torch.cat([p.detach().flatten() for p in run.module.model.connector.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_a_missing_model_folder_says_it_does_not_exist(tmp_path):
    from culturalpangea.models.loading import load_vlm
    from culturalpangea.models.weights import CheckpointError

    with pytest.raises(CheckpointError, match=r"pangea-7b-hf does not exist: point the model at"):
        load_vlm(tmp_path / "pangea-7b-hf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="neither a project checkpoint nor an HF LlavaNext folder"):
        load_vlm(tmp_path / "empty")
