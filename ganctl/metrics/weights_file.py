"""Reading a feature extractor's weights file (ganctl's classifier, the FID Inception) with one clear error."""

from __future__ import annotations

from pathlib import Path

import torch

from ganctl.errors import UserError, one_line


def load_weights_file(file: Path, missing: str, foreign: str, hint: str) -> object:
    """torch.load(file, weights_only=True) on the CPU. A missing file ("no {missing} at FILE") or one that does not
    load, e.g. a truncated zip, a pickle naming other globals, random bytes ("FILE is not {foreign}"), is one
    UserError that ends with `hint` on how to get the right one."""
    if not file.is_file():
        raise UserError(f"no {missing} at {file}; {hint}")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # every failure to load means the same to the user: not the file they need
        detail = one_line(error, 200)
        raise UserError(f"{file} is not {foreign} ({detail}); {hint}") from None
