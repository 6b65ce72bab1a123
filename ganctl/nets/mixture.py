"""A mixture of k generators that is one ordinary generator module: z (B, z_dim) -> (B, *data_shape).

Built for MAD-GAN (Ghosh, Kulharia, Namboodiri, Torr, Dokania 2018, arXiv:1704.02906), whose k generators share
their early layers: in the authors' code (github.com/vivkul/MAD-GAN_synthetic, madgan.py with models/toy_models_ind.py)
`former1` and `former2` are built once and reused by every generator and only `latter`, the output layer, is
separate (the repository's madgan_ind.py tries the reverse, an own first layer and shared rest; not offered here).
Here the first `shared_layers` parametric layers are tied, for any architecture:

    parametric layers = the leaf modules that own parameters or buffers (Linear, Conv, ConvTranspose, BatchNorm, ...),
                        in registration order. shared_layers = -1 (the default) ties all but the last one, as the
                        authors' code does; 0 gives k independent generators; n > 0 ties the first n.

Tying means generator j > 0 holds generator 0's submodule object at those positions, so the shared layers are the
same Parameter objects (one gradient, one optimiser state; `parameters()` lists them once). This shares exactly the
early layers only if registration order is forward order, which holds for MlpGenerator (one nn.Sequential) and
DcganGenerator (project, project_norm, blocks: registered in the order forward calls them); the first forward call
checks it with hooks and raises UserError for an architecture where it does not hold. A tied batch norm normalises
each generator's block with that block's statistics (the generators run one after another) and its running
averages see every block.

Sample i of a batch comes from generator labels(B)[i], in contiguous balanced blocks: generator 0 makes the first
~B/k samples, generator 1 the next, and so on (block sizes differ by at most one unit). Why blocks:
- deterministic, so a training method knows the target of every sample without G returning extra data;
- balanced, so the samples come from the uniform mixture p_g = (1/k) sum_i p_gi of the paper;
- contiguous, so each generator runs once on a slice (no gather/scatter) and every chunk of `generate` (evaluation,
  `ganctl sample`) holds samples from all k generators;
- a block is a whole number of `multiple` samples (the discriminator's pack size, PacGAN) when B allows, so a pack
  of consecutive samples never mixes generators.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganctl.errors import UserError


def parametric_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every leaf module that owns parameters or buffers, in registration order."""
    return [(name, m) for name, m in net.named_modules()
            if not list(m.children()) and (list(m.parameters(recurse=False)) or list(m.buffers(recurse=False)))]


class MixtureGenerator(nn.Module):
    def __init__(self, make_generator: Callable[[], nn.Module], k: int, shared_layers: int = -1, multiple: int = 1):
        super().__init__()
        if k < 2:
            raise UserError(f"a mixture needs k >= 2 generators, got k={k}; fix method.k")
        if multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {multiple}")  # set by the method, not by the user
        self.k, self.multiple = k, multiple
        self.generators = nn.ModuleList(make_generator() for _ in range(k))
        layers = parametric_layers(self.generators[0])
        n = len(layers) + shared_layers if shared_layers < 0 else shared_layers
        if not 0 <= n < len(layers):
            raise UserError(f"shared_layers={shared_layers} does not fit a generator with {len(layers)} parametric "
                            f"layers: use 0 (no sharing) to {len(layers) - 1}, or -1 (all but the last)")
        self.shared_names = [name for name, _ in layers[:n]]
        for g in self.generators[1:]:
            for name in self.shared_names:
                parent, _, child = name.rpartition(".")
                setattr(g.get_submodule(parent) if parent else g, child, self.generators[0].get_submodule(name))
        self._order_checked = n == 0

    def block_sizes(self, n: int) -> list[int]:
        """How many of n consecutive samples each generator makes: balanced in whole units of `multiple`
        samples when n is a multiple of it, else in single samples."""
        unit = self.multiple if n % self.multiple == 0 else 1
        units = n // unit
        return [((i + 1) * units // self.k - i * units // self.k) * unit for i in range(self.k)]

    def labels(self, n: int, device: torch.device | str | None = None) -> Tensor:
        """(n,) long: the generator that makes each sample of a batch of n (contiguous blocks 0, 0, ..., 1, 1, ...)."""
        sizes = torch.tensor(self.block_sizes(n), device=device)
        return torch.repeat_interleave(torch.arange(self.k, device=device), sizes)

    def forward(self, z: Tensor) -> Tensor:
        chunks = z.split(self.block_sizes(z.shape[0]))
        if not self._order_checked and chunks[0].shape[0] > 0:
            out0 = self._checked_forward(chunks[0])
            rest = [g(c) for g, c in zip(self.generators[1:], chunks[1:]) if c.shape[0] > 0]
            return torch.cat([out0, *rest])
        return torch.cat([g(c) for g, c in zip(self.generators, chunks) if c.shape[0] > 0])  # (B, *data_shape)

    def each(self, z: Tensor) -> Tensor:
        """Every generator on the same noise: (B, z_dim) -> (k, B, *data_shape) (MAD-GAN-Sim compares them)."""
        return torch.stack([g(z) for g in self.generators])

    def _checked_forward(self, z: Tensor) -> Tensor:
        """Generator 0 on z, recording the order its parametric layers run in: tying "the first n registered
        layers" shares the early layers only if those are also the first n to run."""
        called: list[str] = []
        hooks = [m.register_forward_hook(lambda *_, name=name: called.append(name))
                 for name, m in parametric_layers(self.generators[0])]
        try:
            out = self.generators[0](z)
        finally:
            for h in hooks:
                h.remove()
        first = list(dict.fromkeys(called))[:len(self.shared_names)]
        if first != self.shared_names:
            raise UserError(f"{type(self.generators[0]).__name__} runs its layers in an order other than the one it "
                            f"registers them in ({first} before {self.shared_names}), so shared_layers cannot tell "
                            f"which layers come first; use method.shared_layers=0 with this generator")
        self._order_checked = True
        return out
