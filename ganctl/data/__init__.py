"""Data sets, each loaded whole into memory as a `Dataset` (train/test tensors, labels where known).

Loaders (the `_target_` of a `conf/data/*.yaml` file):
- `mixtures.ring`, `mixtures.grid`: 2-D Gaussian mixtures for mode-collapse experiments (points (N, 2)).
- `digits.digits`: scikit-learn's bundled 8x8 digits, no download needed.
- `idx.mnist`: MNIST / Fashion-MNIST IDX files, plain or .gz (`idx.read_idx` reads any IDX file).
- `stacked_mnist.stacked_mnist`: three random MNIST digits as the channels of one image (1000 modes).
- `cifar.cifar10`: CIFAR-10 python batches, unpickled without running code.
- `image_folder.image_folder`: a folder of image files, sub-folder names as labels.
- `arrays.array_file`: a .npy / .npz array.
Images are (N, C, H, W) float32 in [-1, 1]; `prepare` holds the checks, scaling and split they share.
"""

from ganctl.data.base import Dataset

__all__ = ["Dataset"]
