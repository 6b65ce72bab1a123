"""Metric speed: ganctl's FID, KID, 1-NN and MMD against straightforward numpy/scipy code on the same features.

For each size n (n real and n generated features) one run prints ganctl's time, on the CPU and on CUDA when
torch sees a GPU, beside the baseline's: numpy/scipy on the CPU, the code one writes from the papers --
numpy.cov and scipy.linalg.sqrtm of cov_r cov_f (pytorch-fid's FID), the q x q kernel matrices of each KID subset
(torch-fidelity's KID, the same subsets), a chunked numpy 1-NN and a chunked Gaussian MMD with the same median-
heuristic bandwidth. Both values and their relative difference are printed too, so the table also shows that
the two computations agree.

Features: seeded Gaussians in d dimensions, float32 like Inception pool3 features, with some structure so that
every metric is nonzero: real = s * e + u W, fake = 1.1 s * e' + u' W + 0.05, where e, e' ~ N(0, I_d),
u, u' ~ N(0, I_16), s ~ U[0.5, 1.5]^d and W ~ N(0, 0.5^2)^(16 x d).

Timing: the best of --repeat runs; ganctl's are preceded by one warm-up call on a small slice (CUDA context,
cuBLAS/cuSOLVER handles, lazy imports). On CUDA the features are on the GPU before the clock starts (as the engine holds them)
and the clock stops after torch.cuda.synchronize(). Budget: KID, 1-NN and MMD are float64 matrix products of a
known size, so their time is about flops / (this machine's float64 GEMM rate, measured at start); a run whose
estimate exceeds --budget seconds is skipped, on either side, and the row says so (--budget inf runs all). FID
is always run: its d x d decompositions are not GEMM-bound, and it is the headline figure.

--inception also times the FID Inception-v3 features as the engine extracts them (features.extractor: the
network with random weights, written to a file and read back by load_inception, channels_last, in batches of
--batch-size under torch.inference_mode; images in [-1, 1] back to uint8) at each metrics.precision the device
has: fp32, tf32 (CUDA only) and bf16, side by side in images/s. The images are random uint8 32 x 32, the odd
ones drawn from 0..127 (darker), so that the FID between the even and the odd images is far from 0; each fast
path's row gives that FID from its features, the fp32 one from the same images, their difference, and the
features' relative error ||f - f_fp32|| / ||f_fp32||. Where --images would take longer than --budget at the
pace of one timed batch (the CPU), only as many whole batches as fit are timed, and every precision's FID uses
the images all of them processed.

    .venv/bin/python benchmarks/metrics.py [--n 10000 50000] [--d 2048] [--device auto|cpu|cuda] [--repeat 3]
        [--budget 60] [--kid-subsets 100] [--skip-baseline] [--inception [--images 5000] [--batch-size 100]]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
import scipy.spatial.distance
import torch
from omegaconf import OmegaConf

from ganctl.engine import build
from ganctl.engine import features as feature_spaces
from ganctl.errors import UserError
from ganctl.metrics.fid import fid
from ganctl.metrics.kid import kid
from ganctl.metrics.mmd import mmd
from ganctl.metrics.nn1 import nn1_accuracy
from ganctl.metrics.inception import save_random_weights
from ganctl.metrics.mmd import MEDIAN_POINTS, MEDIAN_SEED

RANK = 16  # shared low-rank component u W of the features
SCALE, SHIFT = 1.1, 0.05  # fake = SCALE * (independent part) + shared part + SHIFT
TARGETS = ("issue 5's targets on one H100, n = 50k, d = 2048: FID statistics + distance < 0.15 s, 1-NN < 1 s, "
           "Inception features of 32x32 images > 15,000 images/s")


def features(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """real, fake (n, d) float32 on the CPU, as described in the module docstring."""
    gen = torch.Generator().manual_seed(seed)
    s = 0.5 + torch.rand(d, generator=gen)
    w = 0.5 * torch.randn(RANK, d, generator=gen)
    real = torch.randn(n, d, generator=gen) * s + torch.randn(n, RANK, generator=gen) @ w
    fake = SCALE * s * torch.randn(n, d, generator=gen) + torch.randn(n, RANK, generator=gen) @ w + SHIFT
    return real, fake


# --- the baselines: plain numpy/scipy, float64, on the CPU -------------------------------------------------------

def fid_numpy(real: np.ndarray, fake: np.ndarray) -> float:
    """pytorch-fid's computation: numpy.cov (n - 1), scipy.linalg.sqrtm of the non-symmetric product, real part."""
    mu_r, mu_f = real.mean(axis=0, dtype=np.float64), fake.mean(axis=0, dtype=np.float64)
    cov_r, cov_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)  # float64 for float32 input
    covmean = scipy.linalg.sqrtm(cov_r @ cov_f).real
    diff = mu_r - mu_f
    return float(diff @ diff + np.trace(cov_r) + np.trace(cov_f) - 2 * np.trace(covmean))


def kid_numpy(real: np.ndarray, fake: np.ndarray, subsets: int, subset_size: int, seed: int) -> float:
    """torch-fidelity's KID (kid_mean): whole q x q cubic-kernel matrices per subset, subsets drawn as kid() draws
    them (RandomState(seed), fake then real)."""
    d = real.shape[1]
    q = min(subset_size, len(real), len(fake))
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for s in range(subsets):
        y = fake[rng.choice(len(fake), q, replace=False)].astype(np.float64)
        x = real[rng.choice(len(real), q, replace=False)].astype(np.float64)
        k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))  # (q, q) each
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (q * (q - 1))
        values[s] = within - 2 * k_xy.mean()
    return float(values.mean())


def nn1_numpy(real: np.ndarray, fake: np.ndarray, chunk: int = 1024) -> float:
    """Leave-one-out 1-NN accuracy: squared distances of a chunk of pooled rows to all, self set to inf, argmin."""
    z = np.concatenate([real, fake]).astype(np.float64)  # (2n, d)
    sq = (z * z).sum(axis=1)
    is_real = np.arange(len(z)) < len(real)
    nearest = np.empty(len(z), dtype=np.int64)
    for start in range(0, len(z), chunk):
        dist = sq[start : start + chunk, None] + sq[None, :] - 2 * z[start : start + chunk] @ z.T  # (c, 2n)
        rows = np.arange(len(dist))
        dist[rows, start + rows] = np.inf
        nearest[start : start + chunk] = dist.argmin(axis=1)
    return float((is_real[nearest] == is_real).mean())


def mmd_numpy(real: np.ndarray, fake: np.ndarray, median_index: np.ndarray, chunk: int = 4096) -> float:
    """Unbiased Gaussian-kernel MMD^2, sigma = median pooled distance over the points median_index picks (the same
    points ganctl's median heuristic draws), kernel sums in row chunks."""
    x, y = real.astype(np.float64), fake.astype(np.float64)
    sigma = float(np.median(scipy.spatial.distance.pdist(np.concatenate([x, y])[median_index])))

    def kernel_sum(a, b, same):
        b_sq, total = (b * b).sum(axis=1), 0.0
        for start in range(0, len(a), chunk):
            a_c = a[start : start + chunk]
            k = np.exp(-np.maximum((a_c * a_c).sum(axis=1)[:, None] + b_sq - 2 * a_c @ b.T, 0) / (2 * sigma**2))
            if same:  # U-statistic: leave out k(a_i, a_i)
                rows = np.arange(len(k))
                k[rows, start + rows] = 0.0
            total += k.sum()
        return total

    n, m = len(x), len(y)
    return kernel_sum(x, x, True) / (n * (n - 1)) + kernel_sum(y, y, True) / (m * (m - 1)) \
        - 2 * kernel_sum(x, y, False) / (n * m)


# --- timing -------------------------------------------------------------------------------------------------------

@dataclass
class Metric:
    name: str
    ours: Callable[[torch.Tensor, torch.Tensor], float]  # ganctl, on the tensors' device
    baseline: Callable[[np.ndarray, np.ndarray], float]
    flops: Callable[[int, int], float] | None  # (n, d) -> float64 flops of either side; None: never skipped


def metrics(args) -> list[Metric]:
    subsets, q = args.kid_subsets, args.kid_subset_size

    def median_index(total: int) -> np.ndarray:  # the pooled points ganctl's median_bandwidth draws
        if total <= MEDIAN_POINTS:
            return np.arange(total)
        return torch.randperm(total, generator=torch.Generator().manual_seed(MEDIAN_SEED))[:MEDIAN_POINTS].numpy()

    return [
        Metric("fid", lambda r, f: fid(real=r, fake=f), fid_numpy, None),
        Metric("kid", lambda r, f: kid(real=r, fake=f, subsets=subsets, subset_size=q)["kid_mean"],
               lambda r, f: kid_numpy(r, f, subsets, q, seed=0),
               lambda n, d: subsets * 6 * min(q, n) ** 2 * d),
        Metric("nn1", lambda r, f: nn1_accuracy(real=r, fake=f)["nn1_accuracy"], nn1_numpy,
               lambda n, d: 2 * (2 * n) ** 2 * d),
        Metric("mmd", lambda r, f: mmd(real=r, fake=f), lambda r, f: mmd_numpy(r, f, median_index(2 * len(r))),
               lambda n, d: 6 * n**2 * d),
    ]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], float], device: torch.device, repeat: int) -> tuple[float, float]:
    """(best wall time in s, value) over `repeat` calls of fn."""
    best, value = math.inf, math.nan
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        value = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best, value


def gemm_rate(device: torch.device | None) -> float:
    """float64 flop/s of a (1024, 2048) x (2048, 1024) product: torch on `device`, or numpy for None."""
    a, b = torch.randn(1024, 2048, dtype=torch.float64), torch.randn(2048, 1024, dtype=torch.float64)
    if device is None:
        a, b = a.numpy(), b.numpy()
        product, dev = lambda: a @ b, torch.device("cpu")
    else:
        a, b = a.to(device), b.to(device)
        product, dev = lambda: (a @ b).sum(), device
    product()
    seconds, _ = timed(product, dev, 3)
    return 2 * 1024 * 2048 * 1024 / seconds


def over_budget(metric: Metric, n: int, d: int, rate: float, budget: float) -> str | None:
    """The skip reason when the GEMM estimate exceeds the budget, else None."""
    if metric.flops is None:
        return None
    estimate = metric.flops(n, d) / rate
    return f"~{estimate:.2g} s estimated > --budget {budget:g} s" if estimate > budget else None


def run_ours(metric: Metric, real: torch.Tensor, fake: torch.Tensor, device: torch.device, repeat: int):
    real, fake = real.to(device), fake.to(device)
    with warnings.catch_warnings():  # the warm-up slice has n <= d and fewer rows than a KID subset
        warnings.simplefilter("ignore")
        metric.ours(real[:256, :64], fake[:256, :64])
    return timed(lambda: metric.ours(real, fake), device, repeat)


@dataclass
class InceptionRun:
    precision: str
    rate: float | None = None  # images/s
    images: int = 0  # images timed
    feats: torch.Tensor | None = None  # (images, 2048) pool3 features of the timed images, on the device
    note: str = ""


def inception_images(images: int, device: torch.device) -> torch.Tensor:
    """(images, 3, 32, 32) in [-1, 1] as ganctl's loaders scale uint8 pixels, on `device`: even ones uniform in
    0..255, odd ones in 0..127."""
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, generator=gen)
    pixels[1::2] //= 2
    return (pixels.float() / 127.5 - 1).to(device)


def inception_runs(device: torch.device, images: int, batch_size: int, repeat: int,
                   budget: float) -> list[InceptionRun]:
    """Each metrics.precision's throughput (images/s) of the engine's Inception extractor on `device`, with the
    features of the images it timed: fewer than `images` (whole batches, at least one) when one batch's pace says
    that all of them would take longer than `budget` seconds."""
    x = inception_images(images, device)
    with tempfile.TemporaryDirectory() as tmp:
        weights = save_random_weights(Path(tmp) / "inception.pth")
        settings = OmegaConf.create({"features": "inception", "inception_weights": str(weights),
                                     "batch_size": batch_size, "precision": "fp32"})
        extractor = feature_spaces.extractor(settings, None, device)  # loaded once, run at each precision below
    starts = range(0, images, batch_size)
    runs = []
    for precision in feature_spaces.PRECISIONS:
        try:
            effective = feature_spaces.precision(OmegaConf.merge(settings, {"precision": precision}), device)
        except UserError as error:  # bf16 on a GPU without bfloat16 units
            runs.append(InceptionRun(precision, note=f"skipped: {error}"))
            continue
        if effective != precision:
            runs.append(InceptionRun(precision, note=f"no TF32 on a {device.type.upper()}: metrics.precision="
                                                     f"{precision} runs {effective} there (the row above)"))
            continue
        ext = dataclasses.replace(extractor, precision=precision)
        if device.type == "cuda":  # warm-up: the last batch's shape (cuDNN autotunes each shape)
            ext.extract(x[starts[-1] :], batch_size)
        # The first batch's pace (on the CPU also the warm-up), for the budget.
        pace, _ = timed(lambda ext=ext: ext.extract(x[:batch_size], batch_size), device, 1)
        batches = len(starts) if pace * len(starts) <= budget else max(1, int(budget / pace))
        subset = x[: batches * batch_size]
        seconds, (feats, _) = timed(lambda ext=ext, subset=subset: ext.extract(subset, batch_size), device, repeat)
        runs.append(InceptionRun(precision, len(subset) / seconds, len(subset), feats))
    return runs


def inception_report(device: torch.device, runs: list[InceptionRun]) -> None:
    """One row per precision: images/s, the speed-up over fp32, and on the images every precision timed, the FID
    between the even and the odd images from its features and from fp32's, and the features' relative error."""
    done = [run for run in runs if run.feats is not None]
    n = min(run.images for run in done)  # the same images for every precision
    reference = next(run for run in done if run.precision == "fp32")

    def fid_of(feats: torch.Tensor) -> float | str:
        if n < 4:  # a covariance needs 2 images on each side
            return "-"
        with warnings.catch_warnings():  # n <= 2048 on the CPU: see the note printed below the table
            warnings.simplefilter("ignore")
            return fid(real=feats[:n:2], fake=feats[1:n:2])

    fid_fp32 = fid_of(reference.feats)
    if n < 4:
        reference.note = f"{n} images: too few for an FID (2 even and 2 odd ones at least)"
    for run in runs:
        if run.feats is None:
            print(INCEPTION_ROW.format(device.type, run.precision, *["-"] * 7, run.note).rstrip())
            continue
        value = fid_of(run.feats)
        error = float((run.feats[:n].double() - reference.feats[:n].double()).norm()
                      / reference.feats[:n].double().norm())
        fids = [f"{value:.7g}", f"{fid_fp32:.7g}", f"{value - fid_fp32:+.2e}"] if n >= 4 else ["-"] * 3
        print(INCEPTION_ROW.format(device.type, run.precision, f"{run.rate:.1f}", f"{run.rate / reference.rate:.2f}x",
                                   run.images, *fids, f"{error:.1e}", run.note).rstrip(), flush=True)
    if 4 <= n <= 2 * 2048:
        print(f"  FID on {n // 2 + n % 2} vs {n // 2} images in 2048 dimensions is no estimate worth quoting, but "
              f"both columns use the same images: the difference is the precision's alone")


INCEPTION_ROW = "  {:<7}{:<6}{:>10}{:>9}{:>8}{:>15}{:>15}{:>12}{:>15}  {}"


# --- report -------------------------------------------------------------------------------------------------------

def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = (f", {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})" if torch.cuda.is_available()
           else ", no CUDA GPU")
    return (f"{model}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}{gpu}")


def secs(t: float) -> str:
    return f"{t:.3g} s"


ROW = "{:<5}{:>7}  {:<6}{:>11}{:>13}{:>9}{:>15}{:>15}{:>10}  {}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10000, 50000], help="real and fake features per set")
    parser.add_argument("--d", type=int, default=2048, help="feature dimension (Inception pool3: 2048)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where ganctl runs; auto: the CPU, and CUDA too when present")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per entry; the best is printed")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="skip a KID/1-NN/MMD run whose GEMM estimate exceeds this many seconds (inf: none)")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--skip-baseline", action="store_true", help="time ganctl only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inception", action="store_true", help="also time Inception feature extraction")
    parser.add_argument("--images", type=int, default=5000, help="images per --inception run")
    parser.add_argument("--batch-size", type=int, default=100, help="--inception batch (the engine's default)")
    args = parser.parse_args()

    names = {"auto": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []), "cpu": ["cpu"], "cuda": ["cuda"]}
    try:
        devices = [build.device(name) for name in names[args.device]]  # the engine's CUDA settings, too
    except UserError as error:  # --device cuda without a GPU
        parser.error(str(error))
    print(f"machine: {machine()}; {datetime.date.today()}")
    rates = {dev.type: gemm_rate(dev) for dev in devices}
    numpy_rate = gemm_rate(None)
    print("float64 GEMM, for the --budget estimates: "
          + ", ".join(f"torch {k} {v / 1e9:.0f} GFLOP/s" for k, v in rates.items())
          + f", numpy {numpy_rate / 1e9:.0f} GFLOP/s")
    print(f"features: seeded Gaussians, d = {args.d}, float32, fake = {SCALE} x real's spread + {SHIFT} "
          f"(benchmarks/metrics.py docstring); KID: {args.kid_subsets} subsets of {args.kid_subset_size}; "
          f"MMD: Gaussian kernel, median bandwidth, unbiased; best of {args.repeat}")
    print(ROW.format("", "n", "device", "ganctl", "numpy/scipy", "speedup", "ganctl value", "numpy value",
                     "rel diff", "note"))

    real_all, fake_all = features(max(args.n), args.d, args.seed)
    cpu = torch.device("cpu")
    for n in args.n:
        real, fake = real_all[:n], fake_all[:n]
        real_np, fake_np = real.numpy(), fake.numpy()
        for metric in metrics(args):
            base_time, base_value, base_note = None, None, "baseline skipped (--skip-baseline)"
            if not args.skip_baseline:
                base_note = over_budget(metric, n, args.d, numpy_rate, args.budget)
                if base_note is None:
                    base_time, base_value = timed(partial(metric.baseline, real_np, fake_np), cpu, args.repeat)
                else:
                    base_note = f"baseline skipped ({base_note})"
            for device in devices:
                note = over_budget(metric, n, args.d, rates[device.type], args.budget)
                if note is None:
                    ours_time, value = run_ours(metric, real, fake, device, args.repeat)
                    note = base_note or ""
                else:
                    ours_time, value, note = None, None, f"ganctl skipped ({note})" + (
                        f"; {base_note}" if base_note else "")
                both = ours_time is not None and base_time is not None
                rel = abs(value - base_value) / max(abs(base_value), 1e-300) if both else None
                print(ROW.format(
                    metric.name, n, device.type,
                    secs(ours_time) if ours_time is not None else "-",
                    secs(base_time) if base_time is not None else "-",
                    f"{base_time / ours_time:.1f}x" if both else "-",
                    f"{value:.7g}" if value is not None else "-",
                    f"{base_value:.7g}" if base_value is not None else "-",
                    f"{rel:.1e}" if rel is not None else "-", note).rstrip(), flush=True)

    if args.inception:
        print(f"\ninception: the engine's extractor (InceptionV3, random weights via load_inception, channels_last) "
              f"at each metrics.precision, {args.images} random uint8 32x32 images (odd ones darker) -> 299x299, "
              f"batch {args.batch_size}, best of {args.repeat}; fewer images where --budget says so")
        print(INCEPTION_ROW.format("device", "prec", "images/s", "vs fp32", "images", "FID even/odd", "FID fp32",
                                   "difference", "feature error", "note").rstrip())
        for device in devices:
            inception_report(device, inception_runs(device, args.images, args.batch_size, args.repeat, args.budget))
        print("  Agreement with torch-fidelity's FID needs the real weights and is not measured here.")
    print(f"\n{TARGETS}")


if __name__ == "__main__":
    main()
