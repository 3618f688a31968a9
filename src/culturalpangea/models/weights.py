"""Reading and writing weight files safely: safetensors first, pickles only as weights-only.

- Reading: a folder's tensors are indexed by name without loading them (safetensors headers or the
  `*.index.json` of a sharded checkpoint), then read file by file, so converting a 7B checkpoint
  holds one shard in memory at a time. Legacy `pytorch_model*.bin` files are read with
  `torch.load(weights_only=True)`: no arbitrary object is ever unpickled.
- Checking: every load compares names and shapes with what the module expects and raises one
  `CheckpointError` that names the missing, unexpected and mismatched tensors (first few of each).
- Writing: shards of at most `max_shard_bytes` with HF's names (`model.safetensors` or
  `model-0000i-of-0000n.safetensors` + index), inside an output folder that appears only when
  complete (`atomic_output_dir`: a hidden `.partial` folder renamed at the end; leftovers of a
  killed run are removed by the next one).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from culturalpangea.errors import UserError

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
BIN_INDEX = "pytorch_model.bin.index.json"
BIN_SINGLE = "pytorch_model.bin"
DEFAULT_MAX_SHARD_BYTES = 5 * 1024**3
_SHOWN = 5


class CheckpointError(UserError, ValueError):
    """A checkpoint that does not fit the model: names the tensors (or files) at fault."""


def save_safetensors(tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    """safetensors with HF's metadata, readable by the group like any other file (umask respected)."""
    save_file({name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}, str(path),
              metadata={"format": "pt"})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def load_weights_file(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of one file: safetensors, or a weights-only torch pickle (.bin/.pt/.pth/.ckpt)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    if path.suffix in {".bin", ".pt", ".pth", ".ckpt"}:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # old (non-zip) serialisation cannot be memory-mapped
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(loaded, dict):
            raise CheckpointError(f"{path} holds a {type(loaded).__name__}, not a dict of tensors")
        return loaded
    raise CheckpointError(f"{path}: unknown weights format {path.suffix!r} (expected .safetensors, .bin, .pt)")


class TensorReader:
    """Names → files of a checkpoint folder (safetensors or legacy .bin, single or sharded)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.file_of: dict[str, Path] = self._index()

    def _index(self) -> dict[str, Path]:
        for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
            index = self.folder / index_name
            if index.is_file():
                weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
                if not isinstance(weight_map, dict):
                    raise CheckpointError(f"{index} has no weight_map")
                return {name: self.folder / file for name, file in weight_map.items()}
        single = self.folder / SAFETENSORS_SINGLE
        if single.is_file():
            with safe_open(str(single), framework="pt") as handle:
                return dict.fromkeys(handle.keys(), single)
        legacy = self.folder / BIN_SINGLE
        if legacy.is_file():
            return dict.fromkeys(load_weights_file(legacy), legacy)
        expected = ", ".join((SAFETENSORS_SINGLE, SAFETENSORS_INDEX, BIN_SINGLE, BIN_INDEX))
        raise CheckpointError(f"{self.folder}: no weights (looked for {expected})")

    def names(self) -> list[str]:
        return sorted(self.file_of)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes without reading tensor data where the format allows it."""
        shapes: dict[str, tuple[int, ...]] = {}
        for file, names in self._by_file().items():
            if file.suffix == ".safetensors":
                with safe_open(str(file), framework="pt") as handle:
                    shapes.update({name: tuple(handle.get_slice(name).get_shape()) for name in names})
            else:
                tensors = load_weights_file(file)
                shapes.update({name: tuple(tensors[name].shape) for name in names})
        return shapes

    def _by_file(self) -> dict[Path, list[str]]:
        by_file: dict[Path, list[str]] = {}
        for name, file in sorted(self.file_of.items()):
            if not file.is_file():
                raise CheckpointError(f"{file} (listed for tensor {name}) does not exist")
            by_file.setdefault(file, []).append(name)
        return by_file

    def iter_files(self, wanted: Iterable[str] | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Tensors grouped by file, one file in memory at a time (only `wanted` names if given)."""
        keep = None if wanted is None else set(wanted)
        for file, in_file in self._by_file().items():
            names = [name for name in in_file if keep is None or name in keep]
            if not names:
                continue
            if file.suffix == ".safetensors":
                with safe_open(str(file), framework="pt") as handle:
                    yield {name: handle.get_tensor(name) for name in names}
            else:
                tensors = load_weights_file(file)
                yield {name: tensors[name] for name in names}

    def read(self, wanted: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        tensors: dict[str, torch.Tensor] = {}
        for part in self.iter_files(wanted):
            tensors.update(part)
        return tensors


def _listing(label: str, names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN]) + (f" (+{len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")
    return f"{len(names)} {label}: {shown}"


def check_shapes(
    expected: Mapping[str, tuple[int, ...]],
    found: Mapping[str, tuple[int, ...]],
    source: str,
    optional: Iterable[str] = (),
) -> None:
    """Raise `CheckpointError` naming missing, unexpected and mismatched tensors, if any."""
    optional = set(optional)
    missing = sorted(set(expected) - set(found) - optional)
    unexpected = sorted(set(found) - set(expected))
    mismatched = sorted(
        f"{name} {tuple(found[name])} in the checkpoint vs {tuple(expected[name])} in the model"
        for name in set(expected) & set(found)
        if tuple(found[name]) != tuple(expected[name])
    )
    problems = [
        _listing(label, names)
        for label, names in (("missing tensors", missing), ("unexpected tensors", unexpected),
                             ("tensors with mismatched shapes", mismatched))
        if names
    ]
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems))


def module_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Names and shapes of a module's persistent state (works for meta-device modules)."""
    return {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}


def check_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str,
                     optional: Iterable[str] = ()) -> None:
    check_shapes(module_shapes(module), {name: tuple(t.shape) for name, t in state.items()}, source, optional)


class ShardedSafetensorsWriter:
    """Writes tensors into HF-named safetensors shards of bounded size (call `close()` at the end)."""

    def __init__(self, folder: Path, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> None:
        self.folder = Path(folder)
        self.max_shard_bytes = max_shard_bytes
        self.pending: dict[str, torch.Tensor] = {}
        self.pending_bytes = 0
        self.shards: list[list[str]] = []
        self.total_bytes = 0

    def add(self, name: str, tensor: torch.Tensor) -> None:
        if name in self.pending or any(name in shard for shard in self.shards):
            raise CheckpointError(f"tensor {name} written twice")
        size = tensor.numel() * tensor.element_size()
        if self.pending and self.pending_bytes + size > self.max_shard_bytes:
            self._flush()
        self.pending[name] = tensor.detach().to("cpu").contiguous()
        self.pending_bytes += size

    def _flush(self) -> None:
        index = len(self.shards)
        save_safetensors(self.pending, self.folder / f".shard-{index:05d}.safetensors")
        self.shards.append(sorted(self.pending))
        self.total_bytes += self.pending_bytes
        self.pending, self.pending_bytes = {}, 0

    def close(self) -> list[str]:
        """Name the shards as HF does, write the index if sharded; return the file names."""
        if self.pending or not self.shards:
            self._flush()
        count = len(self.shards)
        if count == 1:
            os.replace(self.folder / ".shard-00000.safetensors", self.folder / SAFETENSORS_SINGLE)
            return [SAFETENSORS_SINGLE]
        weight_map, files = {}, []
        for index, names in enumerate(self.shards):
            file = f"model-{index + 1:05d}-of-{count:05d}.safetensors"
            os.replace(self.folder / f".shard-{index:05d}.safetensors", self.folder / file)
            weight_map.update(dict.fromkeys(names, file))
            files.append(file)
        index_doc = {"metadata": {"total_size": self.total_bytes}, "weight_map": dict(sorted(weight_map.items()))}
        (self.folder / SAFETENSORS_INDEX).write_text(json.dumps(index_doc, indent=2, sort_keys=True), encoding="utf-8")
        return files


@contextmanager
def atomic_output_dir(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden work folder that becomes `out` only when the block completes.

    A folder left by a killed run is removed first, so a rerun produces the same result.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    work, stale = out.parent / f".{out.name}.partial", out.parent / f".{out.name}.replaced"
    for leftover in (work, stale):
        if leftover.exists():
            shutil.rmtree(leftover)
    work.mkdir()
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        os.replace(out, stale)
        shutil.rmtree(stale)
    os.replace(work, out)
