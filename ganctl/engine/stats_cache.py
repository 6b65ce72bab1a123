"""The real set's FID statistics (mu, cov) on disk, so that the real features are extracted once per data set and
extractor rather than at every evaluation (torch-fidelity and pytorch-fid keep such files for the same reason).

A file `<metrics.cache>/<key>.pt` holds {"mu" (d,), "cov" (d, d), float64, "n", "key": the key's fields as
JSON}; it is read with weights_only=True. The key is the sha256 of the fields: the data set's config (its
`_target_`, path and options, or the --real path), the split and the number of real samples n, the extractor
(classifier | inception), the sha256 of its weights file, metrics.precision where it is not fp32 (tf32 and
bf16 statistics differ from fp32's; fp32 keys are those of before the setting existed, so their files stay
valid), and the sha256 of the real samples themselves. The
last one is more than the config says: it catches a data file replaced at the same path, at the cost of one
hash of the samples (about a second per GB). Only classifier and inception features are cached; raw
statistics are cheap to recompute.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from ganctl.engine import checkpoint
from ganctl.errors import one_line
from ganctl.metrics.fid import feature_statistics

log = logging.getLogger("ganctl")


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensor_digest(x: Tensor) -> str:
    """sha256 of a tensor's dtype, shape and values (as stored in memory, on the CPU)."""
    digest = hashlib.sha256(f"{x.dtype} {tuple(x.shape)}".encode())
    digest.update(x.detach().cpu().contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()


def cache_key(fields: dict) -> tuple[str, str]:
    """(key, the fields as canonical JSON): the first 32 hex digits of the JSON's sha256."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32], text


def real_statistics(cache_dir: str | Path | None, source: dict, extractor: str, weights: Path, real: Tensor,
                    real_features: Callable[[], Tensor], precision: str = "fp32") -> tuple[Tensor, Tensor, int]:
    """(mu, cov, n) of the real features: read from the cache when the key matches, else computed from
    `real_features()` (which extracts them, in `precision`'s arithmetic) and written there. cache_dir None:
    always computed."""
    if cache_dir is None:
        feats = real_features()
        return (*feature_statistics(feats), len(feats))
    fields = {**source, "extractor": extractor, "weights_sha256": file_digest(weights),
              "samples_sha256": tensor_digest(real)}
    if precision != "fp32":
        fields["precision"] = precision
    key, text = cache_key(fields)
    path = Path(cache_dir) / f"{key}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored["key"] == text:
                log.info("real feature statistics read from %s", path)
                return stored["mu"], stored["cov"], int(stored["n"])
        except Exception as error:  # truncated or foreign file: recompute and overwrite it
            log.warning("ignoring the unreadable statistics file %s (%s)", path, one_line(error, 200))
    feats = real_features()
    mu, cov = feature_statistics(feats)
    try:
        checkpoint.save({"mu": mu.cpu(), "cov": cov.cpu(), "n": len(feats), "key": text}, path)
        log.info("real feature statistics written to %s", path)
    except OSError as error:  # a read-only or full disk costs the cache, not the evaluation
        log.warning("could not write the statistics cache %s (%s); set metrics.cache=null to turn it off", path,
                    error.strerror or error)
    return mu, cov, len(feats)
