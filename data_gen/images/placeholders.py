"""Placeholder pictures for the embedded sample: a local folder standing in for Wikimedia Commons.

With `source=sample` there is no network, so `images.origin: auto` reads images from
`images.placeholder_dir` instead of Commons. The folder holds one JPEG per Commons file name
(the name itself is the file name: Commons forbids `/`, `\\` and `:` in names). Missing ones are
generated first, deterministically from the file name: a seeded grid of coloured blocks with a
diagonal band, 448x336 or 336x448 (short side 336, the stored minimum), so the same name always
gives the same bytes and different names give different perceptual hashes. A folder filled by
hand with real pictures works the same way (`images.generate_placeholders=false`). Pictures are
written atomically; the temp file of one a killed run was writing is removed when the folder is
next used to generate (not when it is read only: the folder may be the user's own).

Every record from this source says `placeholder: true`; the licence is CC0 because the pixels are
generated here, and `url` names the real Commons file the placeholder stands for. The pictures go
through exactly the same checks, normalisation and near-duplicate removal as downloads.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path
from urllib.parse import quote

from PIL import Image, ImageDraw

from data_gen.images.commons_client import FetchFailure, ImageMeta, check_title
from shard_contract.atomic import atomic_write_bytes, remove_temp_files

# The placeholder's provenance label, as every earlier release wrote it (the module has moved since):
# kept verbatim so the same sample still gives byte-identical shards.
AUTHOR = "CulturalPangea placeholder (data_gen.placeholder_images)"
LICENSE = "CC0 1.0"
LICENSE_URL = "https://creativecommons.org/publicdomain/zero/1.0/"
COMMONS_FILE_PATH = "https://commons.wikimedia.org/wiki/Special:FilePath/"


def placeholder_jpeg(file_name: str) -> bytes:
    """The placeholder picture for `file_name` (same name → same bytes)."""
    rng = random.Random(hashlib.sha256(file_name.encode("utf-8")).digest())
    size = (448, 336) if rng.random() < 0.7 else (336, 448)
    grid = Image.new("RGB", (rng.choice((4, 5, 6)), rng.choice((3, 4, 5))))
    grid.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(grid.width * grid.height)])
    image = grid.resize(size, Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    offset = rng.randrange(-size[1], size[0])
    band = tuple(rng.randrange(256) for _ in range(3))
    draw.line([(offset, 0), (offset + size[1], size[1])], fill=band, width=rng.randrange(12, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


class PlaceholderSource:
    """Files from a local folder, generated on first use when `generate` is set."""

    placeholder = True

    def __init__(self, folder: Path, generate: bool = True) -> None:
        self.folder = Path(folder)
        self.generate = generate
        self.generated = 0
        if generate:  # a picture half-written when a run was killed (one a live writer holds stays)
            remove_temp_files(self.folder, recursive=False)

    def path(self, file_name: str) -> Path:
        return self.folder / check_title(file_name)

    def metadata(self, titles: list[str]) -> dict[str, ImageMeta | FetchFailure]:
        found: dict[str, ImageMeta | FetchFailure] = {}
        for title in titles:
            try:
                path = self.path(title)
            except FetchFailure as failure:
                found[title] = failure
                continue
            if self.generate and not path.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, placeholder_jpeg(title))
                self.generated += 1
            if path.exists():
                url = COMMONS_FILE_PATH + quote(title.replace(" ", "_"))
                found[title] = ImageMeta(url=url, author=AUTHOR, license=LICENSE, license_url=LICENSE_URL)
            else:
                found[title] = FetchFailure("missing", f"not in the placeholder folder {self.folder}")
        return found

    def fetch(self, title: str, meta: ImageMeta) -> bytes:
        try:
            return self.path(title).read_bytes()
        except FileNotFoundError:
            raise FetchFailure("missing", f"not in the placeholder folder {self.folder}") from None
