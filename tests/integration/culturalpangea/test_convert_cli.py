"""`python -m culturalpangea.convert`: HF LlavaNext → project → HF round trip, parity CLI, bad checkpoints."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import AutoProcessor, LlavaNextForConditionalGeneration

from culturalpangea.convert import main
from culturalpangea.data.image_processing import normalize_pixels
from culturalpangea.models import checkpoint as checkpoint_module
from culturalpangea.models.builder import build_vlm
from culturalpangea.models.checkpoint import save_pretrained_vlm
from culturalpangea.models.loading import load_pretrained_vlm
from culturalpangea.models.parity import PARITY_CASES, build_case_inputs

REPO = Path(__file__).resolve().parents[3]


def _hf_logits(folder: Path, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    model, info = LlavaNextForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    with torch.no_grad():
        return model.eval()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                            pixel_values=normalize_pixels(inputs["pixel_values"]),
                            image_sizes=inputs["image_sizes"]).logits


@pytest.fixture(scope="module")
def round_trip(tiny_llava_next, tmp_path_factory):
    root = tmp_path_factory.mktemp("convert")
    assert main(["--from-hf", str(tiny_llava_next), "--out", str(root / "project")]) == 0
    assert main(["--to-hf", str(root / "project"), "--out", str(root / "hf")]) == 0
    return root


def test_import_then_export_reproduces_hf_logits(tiny_llava_next, round_trip):
    loaded = load_pretrained_vlm(round_trip / "project")
    inputs, _ = build_case_inputs(loaded, PARITY_CASES["padded_batch"], np.random.default_rng(0))
    original, exported = _hf_logits(tiny_llava_next, inputs), _hf_logits(round_trip / "hf", inputs)
    attended = inputs["attention_mask"].bool()
    assert torch.equal(original[attended], exported[attended])
    with torch.no_grad():
        ours = loaded.model(**inputs).logits
    assert (ours - original).abs()[attended].max() <= 1e-4


def test_export_has_the_released_checkpoint_layout(round_trip):
    hf = round_trip / "hf"
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "processor_config.json",
                 "tokenizer.json", "generation_config.json"):
        assert (hf / name).is_file(), name
    with safe_open(str(hf / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
    assert "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight" in names
    assert {"language_model.lm_head.weight", "image_newline", "multi_modal_projector.linear_2.bias"} <= names
    config = json.loads((hf / "config.json").read_text())
    assert config["architectures"] == ["LlavaNextForConditionalGeneration"]
    assert config["vision_config"]["hidden_act"] == "quick_gelu" and config["vision_feature_layer"] == -2
    assert oct((hf / "model.safetensors").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_hf_processor_of_the_export_counts_our_image_tokens(round_trip):
    processor = AutoProcessor.from_pretrained(round_trip / "hf")
    loaded = load_pretrained_vlm(round_trip / "project")
    image_id = loaded.model.image_token_id
    for height, width in [(56, 56), (31, 150), (120, 70)]:
        image = Image.new("RGB", (width, height), (5, 90, 160))
        encoded = processor(images=[image], text="<image>\nWhat?", return_tensors="pt")
        assert int((encoded["input_ids"] == image_id).sum()) == loaded.image_preprocessor(image).num_tokens


def test_reimporting_the_export_gives_the_same_project_tensors(round_trip, tmp_path):
    assert main(["--from-hf", str(round_trip / "hf"), "--out", str(tmp_path / "again")]) == 0
    for name in ("vision.safetensors", "connector.safetensors", "llm/model.safetensors"):
        first, second = load_file(round_trip / "project" / name), load_file(tmp_path / "again" / name)
        assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first), name


def test_check_parity_cli_prints_the_max_difference_last(tiny_llava_next, round_trip):
    result = subprocess.run(
        [sys.executable, "-m", "culturalpangea.convert", "--check-parity", str(tiny_llava_next),
         "--against", str(round_trip / "project"), "--tolerance", "1e-4"],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(PARITY_CASES) + 1
    assert lines[-1].startswith("max_abs_logit_diff=") and float(lines[-1].split("=")[1]) <= 1e-4


def test_check_parity_fails_above_the_tolerance(tiny_llava_next, capsys):
    assert main(["--check-parity", str(tiny_llava_next), "--tolerance", "1e-12"]) == 1
    captured = capsys.readouterr()
    assert "parity check failed" in captured.err and captured.out.strip().splitlines()[-1].startswith("max_abs")


def test_sharded_export_and_import(round_trip, tmp_path):
    assert main(["--to-hf", str(round_trip / "project"), "--out", str(tmp_path / "hf"),
                 "--max-shard-size", "200KB"]) == 0
    index = json.loads((tmp_path / "hf" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 3 and all((tmp_path / "hf" / shard).is_file() for shard in shards)
    assert main(["--from-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "project"),
                 "--max-shard-size", "300KB"]) == 0
    assert (tmp_path / "project" / "llm" / "model.safetensors.index.json").is_file()
    inputs, _ = build_case_inputs(load_pretrained_vlm(tmp_path / "project"), PARITY_CASES["anyres_tall_3x1"],
                                  np.random.default_rng(3))
    assert torch.equal(_hf_logits(tmp_path / "hf", inputs), _hf_logits(round_trip / "hf", inputs))


def test_existing_output_leftovers_and_interrupted_runs(tiny_llava_next, tmp_path, capsys, monkeypatch):
    out = tmp_path / "project"
    (tmp_path / ".project.partial").mkdir()
    (tmp_path / ".project.partial" / "junk").write_text("from a killed run")
    assert main(["--from-hf", str(tiny_llava_next), "--out", str(out)]) == 0
    assert not (tmp_path / ".project.partial").exists() and not (out / "junk").exists()
    assert main(["--from-hf", str(tiny_llava_next), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--from-hf", str(tiny_llava_next), "--out", str(out), "--overwrite"]) == 0

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "write_project_config", crash)
    assert main(["--from-hf", str(tiny_llava_next), "--out", str(tmp_path / "other")]) == 2
    assert "disk full" in capsys.readouterr().err
    assert not (tmp_path / "other").exists() and not (tmp_path / ".other.partial").exists()


def _broken_copy(source: Path, target: Path, edit) -> Path:
    shutil.copytree(source, target)
    tensors = load_file(target / "model.safetensors")
    edit(tensors)
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})
    return target


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.pop("language_model.model.norm.weight"), "missing tensors: model.norm.weight"),
        (lambda t: t.update({"language_model.model.extra.weight": torch.zeros(2)}), "unexpected tensors: model.extra"),
        (lambda t: t.update({"surprise.weight": torch.zeros(2)}), "unexpected tensor surprise.weight"),
        (lambda t: t.update({"multi_modal_projector.linear_1.weight": torch.zeros(64, 16)}),
         r"linear_1.weight \(64, 16\) in the checkpoint vs \(64, 32\) in the model"),
        (lambda t: t.pop("vision_tower.encoder.layers.2.self_attn.v_proj.weight"),
         "missing tensor encoder.layers.2.self_attn.v_proj.weight"),
    ],
    ids=["missing", "unexpected-llm", "unexpected", "mismatched-width", "missing-qkv"],
)
def test_bad_checkpoints_name_the_tensor(tiny_llava_next, tmp_path, capsys, edit, message):
    broken = _broken_copy(tiny_llava_next, tmp_path / "broken", edit)
    assert main(["--from-hf", str(broken), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_not_a_checkpoint_and_legacy_bin_weights(tiny_llava_next, tmp_path, capsys):
    assert main(["--from-hf", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "is not an HF LlavaNext checkpoint" in capsys.readouterr().err
    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_llava_next, legacy)
    torch.save(load_file(legacy / "model.safetensors"), legacy / "pytorch_model.bin")
    (legacy / "model.safetensors").unlink()
    assert main(["--from-hf", str(legacy), "--out", str(tmp_path / "project")]) == 0


def test_saved_trained_model_loads_back_and_linear_connector_cannot_export(tiny_model_cfg, tmp_path, capsys):
    model = build_vlm(tiny_model_cfg)
    save_pretrained_vlm(model, tmp_path / "trained")
    loaded = load_pretrained_vlm(tmp_path / "trained")
    inputs, _ = build_case_inputs(loaded, PARITY_CASES["several_images_one_sample"], np.random.default_rng(4))
    with torch.no_grad():
        assert torch.equal(model.eval()(**inputs).logits, loaded.model(**inputs).logits)
    assert main(["--to-hf", str(tmp_path / "trained"), "--out", str(tmp_path / "hf")]) == 0

    cfg = copy.deepcopy(tiny_model_cfg)
    cfg["connector"]["type"] = "linear"
    save_pretrained_vlm(build_vlm(cfg), tmp_path / "linear")
    assert main(["--to-hf", str(tmp_path / "linear"), "--out", str(tmp_path / "hf_linear")]) == 2
    assert "cannot be exported" in capsys.readouterr().err
