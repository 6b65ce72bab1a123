"""Sample-based GAN metrics: arrays in, floats out. One file per metric, named like its function.

- mode_coverage: modes captured, high-quality sample percentage and reverse KL of generated
  samples against a Gaussian mixture's centres (VEEGAN, arXiv:1705.07761; PacGAN, arXiv:1712.04086).
- wasserstein: exact earth mover's distance W1 via POT's network simplex (Xu et al. 2018,
  arXiv:1806.07755); sliced_wasserstein: its sliced Monte Carlo counterpart (Bonneel et al. 2015).
- mmd: kernel MMD^2, unbiased or biased; Gaussian kernel with median-heuristic bandwidth (Gretton et al. 2012)
  or KID's cubic polynomial kernel.
- fid: Frechet distance between Gaussians fitted to the two feature sets (Heusel et al. 2017,
  arXiv:1706.08500); fid.frechet_distance and fid.feature_statistics are its two stages.
- kid: unbiased polynomial-kernel MMD^2, mean and std over random subsets (Binkowski et al. 2018,
  arXiv:1801.01401), torch-fidelity's conventions.
- nn1 (the function nn1_accuracy): leave-one-out 1-nearest-neighbour two-sample test accuracy, overall / real /
  generated (Lopez-Paz & Oquab 2017; Xu et al. 2018).
- precision_recall: k-NN precision and recall (Kynkaanniemi et al. 2019, arXiv:1904.06991);
  density_coverage: density and coverage (Naeem et al. 2020, arXiv:2002.09797). Both, and nn1, compute
  distances in row blocks (pairwise.py), so memory stays O(chunk_size * n) for large sets.
- inception_score (id `is`, conf/metrics/is.yaml), mode_score: on a classifier's class probabilities, not on
  features (Salimans et al. 2016; Che et al. 2017): inception_score(probs=), mode_score(real_probs=, probs=).
  The engine passes them when metrics.features is classifier or inception, and skips them with raw features.
- class_coverage: classes covered, the rarest class's share and KL to even classes, from the generated samples'
  argmax labels (the single-label form of the Stacked MNIST count).
- stacked_mnist_modes: modes covered (of 1000) and KL to uniform on Stacked MNIST, each channel's digit read
  by a saved `classifier.Classifier` (Unrolled GAN, arXiv:1611.02163; VEEGAN; PacGAN).
- parzen (parzen_log_likelihood): Parzen-window log-likelihood of test points under a Gaussian KDE of generated
  samples, bandwidth chosen on validation points (Breuleux et al. 2011; Goodfellow et al. 2014);
  ais (ais_log_likelihood): annealed importance sampling with HMC for log p(x) of a generator read as
  p(x | z) = N(G(z), sigma^2 I) (Wu et al. 2017, arXiv:1611.04273). Likelihood estimates, not engine metrics:
  they take samples / test / validation points or the generator itself, not real= and fake=, so METRICS and
  conf/metrics leave them out.
`classifier` is not a metric: it holds the small CNN (and its file format) that classifier-based metrics load;
nor is `pairwise`, the chunked distance helper of the nearest-neighbour metrics, nor `inception`: InceptionV3,
the FID Inception-v3 (pool3 features and 1008 logits of uint8 images, TensorFlow's resize), loaded from the
pytorch-fid / torch-fidelity weights file by `inception.load_inception(path)`.

Contract with the engine: every metric takes keyword-only arguments, computes on their device, and returns a
float or a flat dict of floats. The engine passes only what the signature names: real, fake (features (n, d)
in the space metrics.features selects), probs, real_probs (class probabilities, classifier or inception
features only), real_stats (fid: the real set's cached (mu, cov, n), given instead of real), modes / std (2-D
mixtures). A required argument the engine cannot give skips the metric with a warning.

Results with several numbers are flat dicts keyed by metric prefix ({"kid_mean", "kid_std"}, {"nn1_accuracy",
"nn1_real", "nn1_fake"}, {"precision", "recall"}, {"density", "coverage"}, {"is_mean", "is_std"}): that is the
functions' one return type, for Python callers and the engine alike (which logs each key as it is), so no
metric needs a second, dict-returning form.

Every module stays a module (`ganctl.metrics.fid` is the file, `ganctl.metrics.fid.fid` its function), and
conf/metrics/*.yaml name the function by its full path in `_target_`. METRICS maps each metric id to its function
for callers that want them all. LEGACY_TARGETS maps the short `_target_`s that runs saved before this layout
(`ganctl.metrics.fid`) to the full ones, so that `ganctl evaluate` still reads them.
"""

from ganctl.metrics import (
    class_coverage,
    density_coverage,
    fid,
    inception_score,
    kid,
    mmd,
    mode_coverage,
    mode_score,
    nn1,
    precision_recall,
    stacked_mnist_modes,
    wasserstein,
)

# id -> function, for callers that want them all; the config selects by `_target_`.
METRICS = {
    "mode_coverage": mode_coverage.mode_coverage,
    "wasserstein": wasserstein.wasserstein,
    "sliced_wasserstein": wasserstein.sliced_wasserstein,
    "mmd": mmd.mmd,
    "stacked_mnist_modes": stacked_mnist_modes.stacked_mnist_modes,
    "fid": fid.fid,
    "kid": kid.kid,
    "nn1": nn1.nn1_accuracy,
    "precision_recall": precision_recall.precision_recall,
    "density_coverage": density_coverage.density_coverage,
    "is": inception_score.inception_score,  # `is` is a Python keyword: the function keeps its long name
    "mode_score": mode_score.mode_score,
    "class_coverage": class_coverage.class_coverage,
}

LEGACY_TARGETS = {f"ganctl.metrics.{name}": f"{function.__module__}.{function.__name__}"
                  for name, function in {**METRICS, "inception_score": METRICS["is"]}.items() if name != "is"}
