"""Sample-based GAN metrics: arrays in, floats out. One file per metric, named like its function.

- mode_coverage: modes captured, high-quality sample percentage and reverse KL of generated
  samples against a Gaussian mixture's centres (VEEGAN, arXiv:1705.07761; PacGAN, arXiv:1712.04086).
- wasserstein: exact earth mover's distance W1 via POT's network simplex (Xu et al. 2018,
  arXiv:1806.07755); sliced_wasserstein: its sliced Monte Carlo counterpart (Bonneel et al. 2015).
- mmd: Gaussian-kernel MMD^2, unbiased or biased, median-heuristic bandwidth (Gretton et al. 2012).
- stacked_mnist_modes: modes covered (of 1000) and KL to uniform on Stacked MNIST, each channel's digit read
  by a saved `classifier.Classifier` (Unrolled GAN, arXiv:1611.02163; VEEGAN; PacGAN).
`classifier` is not a metric: it holds the small CNN (and its file format) that classifier-based metrics load.

Contract with the engine: every metric takes keyword-only arguments (real, fake, and modes / std only when
its signature names them) as torch tensors of shape (n, d), computes on their device, and returns a float
or a flat dict of floats.

The functions are re-exported here under their metric ids (`ganctl.metrics.wasserstein(real=..., fake=...)`),
and that is what `_target_` names in conf/metrics/*.yaml. Binding a function to the name of its own module
is deliberate: the module stays reachable as `from ganctl.metrics.wasserstein import ...` (through
sys.modules), while attribute access (Hydra's `_locate`) always finds the function.
"""

from ganctl.metrics.mmd import mmd
from ganctl.metrics.mode_coverage import mode_coverage
from ganctl.metrics.stacked_mnist_modes import stacked_mnist_modes
from ganctl.metrics.wasserstein import sliced_wasserstein, wasserstein

# id -> function, for callers that want them all; the config selects by `_target_`.
METRICS = {
    "mode_coverage": mode_coverage,
    "wasserstein": wasserstein,
    "sliced_wasserstein": sliced_wasserstein,
    "mmd": mmd,
    "stacked_mnist_modes": stacked_mnist_modes,
}

__all__ = ["METRICS", *METRICS]
