"""The real-vs-real reference for an image benchmark: the image metrics of an image run (conf/data_defaults/images.yaml)
computed between the real training images and the held-out real test images, in the classifier's feature space,
so that a GAN's figures can be read against what the real set itself scores. Also prints the classifier's test
accuracy.

    python benchmarks/image_reference.py [data=fashion_mnist] [eval.n=2500] [metrics.classifier=PATH]

Needs the data set's classifier (`ganctl classifier data=fashion_mnist`, outputs/classifiers/<name>.pt).
"""

import json
import sys
import time

import torch

from ganctl.engine import build
from ganctl.engine.evaluate import score
from ganctl.engine.features import classifier_file
from ganctl.metrics.classifier import load_classifier


def make_config(*overrides: str):
    from hydra import compose, initialize_config_dir

    from ganctl.engine.config import CONF_DIR, register

    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def main(overrides: list[str]) -> None:
    cfg = make_config(*(overrides or ["data=fashion_mnist"]), "metrics.features=classifier")
    data = build.dataset(cfg)
    n = min(cfg.eval.n, len(data.test), len(data.train))
    # A fixed, seeded draw of the training images (the first n are the set's own order, not a random sample).
    picks = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(cfg.seed))[:n]
    path = classifier_file(cfg.metrics, data.name)
    net = load_classifier(path)
    source = {"data": dict(cfg.data), "split": "test", "n": n}
    started = time.perf_counter()
    metrics = score(cfg.metrics, data.test[:n], data.train[picks], data.metric_context(), torch.device("cpu"),
                    source, data.name)
    print(f"{data.name}: real train ({n}, seeded draw) vs real test (first {n}), classifier {path} "
          f"(test accuracy {net.test_accuracy:.4f}), {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(json.dumps(metrics, indent=2))  # stdout: the JSON alone, for benchmarks/images_table.py


if __name__ == "__main__":
    main(sys.argv[1:])
