"""Evaluation in a feature space (metrics.features): each number checked against the same metric computed by hand
on the extractor's own outputs, the real set's FID statistics cache, and raw features skipping IS clearly."""

import logging

import numpy as np
import pytest
import torch

from ganctl.data.digits import digits
from ganctl.engine import checkpoint, stats_cache
from ganctl.engine.classifier import train_classifier
from ganctl.engine.evaluate import score
from ganctl.engine import features
from ganctl.engine.features import Extractor
from ganctl.errors import UserError
from ganctl.metrics.fid import fid
from ganctl.metrics.inception_score import inception_score
from ganctl.metrics.mode_score import mode_score
from ganctl.metrics.classifier import classifier_state
from ganctl.metrics.inception import InceptionV3, save_random_weights
from tests.conftest import make_config, run_cli

CPU = torch.device("cpu")
SOURCE = {"data": {"_target_": "test"}, "split": "test", "n": 0}  # what the cache key records of the real set


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory):
    """A classifier on scikit-learn's digits after 3 epochs (89% test accuracy, ~3 s)."""
    data = digits()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # conftest's per-test setting does not reach a module fixture; 2 threads crawl here
    net, _ = train_classifier(data, epochs=3, batch_size=64, seed=0)
    torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("classifier") / "digits.pt"
    checkpoint.save(classifier_state(net, "digits", 0.0), path)
    return data, net, path


def settings(*overrides):
    return make_config(*overrides).metrics


def test_classifier_features_fid_is_mode_score_match_the_classifier_outputs(digits_classifier, tmp_path):
    data, net, path = digits_classifier
    real = data.test  # (359, 1, 8, 8)
    noise = torch.rand(len(real), 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cfg = settings("metrics=[fid,is,mode_score]", "metrics.features=classifier", f"metrics.classifier={path}",
                   f"metrics.cache={tmp_path}", "metrics.batch_size=50")
    same = score(cfg, real, real.clone(), {}, CPU, SOURCE)
    other = score(cfg, real, noise, {}, CPU, SOURCE)
    held_out = score(cfg, real, data.train[: len(real)], {}, CPU, SOURCE)  # other real digits: the baseline
    with torch.no_grad():
        f_real, f_noise = net.features(real), net.features(noise)
        p_real, p_noise = net(real).softmax(1), net(noise).softmax(1)
    # Identical sets: identical penultimate features and statistics, so FID is 0 up to float64 rounding of the
    # eigen-decomposition (values of order 1e2 on the trace: 1e-8 absolute is far below any real difference).
    assert same["fid"] == pytest.approx(0.0, abs=1e-8)
    # Against noise: the FID of the classifier's own features (computed here without the engine), and large.
    assert other["fid"] == pytest.approx(fid(real=f_real, fake=f_noise), rel=1e-6)
    # Noise is far from digits in the classifier's eyes, other real digits close (66 vs 0.94 with this seed).
    assert other["fid"] > 20 * held_out["fid"]
    expected_is = inception_score(probs=p_real, splits=10)
    assert same["is_mean"] == pytest.approx(expected_is["is_mean"], rel=1e-6)
    assert 1.0 <= same["is_mean"] <= 10.0  # IS of a 10-class classifier lies in [1, 10]
    assert other["mode_score"] == pytest.approx(mode_score(real_probs=p_real, probs=p_noise), rel=1e-6)


def test_fid_statistics_are_cached_and_reused_with_equal_values(digits_classifier, tmp_path, monkeypatch):
    data, _, path = digits_classifier
    real, fake = data.test[:200], data.train[:200]
    cfg = settings("metrics=[fid]", "metrics.features=classifier", f"metrics.classifier={path}",
                   f"metrics.cache={tmp_path}")
    first = score(cfg, real, fake, {}, CPU, SOURCE)
    (cached,) = tmp_path.glob("*.pt")
    calls, original = [], Extractor.extract

    def counted(self, samples, *args, **kwargs):
        calls.append(len(samples))
        return original(self, samples, *args, **kwargs)

    monkeypatch.setattr(Extractor, "extract", counted)
    second = score(cfg, real, fake, {}, CPU, SOURCE)
    assert second == first  # the same float64 statistics, read back bitwise
    assert calls == [len(fake)]  # only the generated set was extracted; the real statistics came from the file
    assert list(tmp_path.glob("*.pt")) == [cached]

    # Another weights file (same network, re-saved with other metadata: other bytes) is another key.
    other = tmp_path / "other.pt"
    state = torch.load(path, weights_only=True)
    checkpoint.save({**state, "test_accuracy": 0.5}, other)
    score(settings("metrics=[fid]", "metrics.features=classifier", f"metrics.classifier={other}",
                   f"metrics.cache={tmp_path}"), real, fake, {}, CPU, SOURCE)
    assert len([p for p in tmp_path.glob("*.pt") if p != other]) == 2


def test_cache_key_depends_on_the_weights_file_and_the_real_set(tmp_path):
    weights, other_weights = tmp_path / "a.pth", tmp_path / "b.pth"
    weights.write_bytes(b"weights A")
    other_weights.write_bytes(b"weights B")
    real = torch.zeros(3, 1, 4, 4)

    def key(w, x, n=3):
        fields = {**SOURCE, "n": n, "weights_sha256": stats_cache.file_digest(w),
                  "samples_sha256": stats_cache.tensor_digest(x)}
        return stats_cache.cache_key(fields)[0]

    assert key(weights, real) == key(weights, real.clone())
    assert key(other_weights, real) != key(weights, real)
    assert key(weights, real + 1) != key(weights, real)
    assert key(weights, real, n=2) != key(weights, real)


def test_raw_features_skip_the_inception_score_with_a_clear_warning(caplog, monkeypatch):
    monkeypatch.setattr("ganctl.engine.evaluate._skips_said", set())  # warned once per process: start afresh
    real = torch.randn(20, 3)
    with caplog.at_level(logging.WARNING, logger="ganctl"):
        out = score(settings("metrics=[is,mmd]"), real, real + 1, {}, CPU, SOURCE)
    assert set(out) == {"mmd"}
    assert "metric is: skipped" in caplog.text and "metrics.features=classifier or inception" in caplog.text


def test_unknown_feature_space_and_missing_classifier_are_one_line(tmp_path):
    x = torch.zeros(4, 1, 8, 8)
    with pytest.raises(UserError, match="choose one of: auto, raw, classifier, inception"):
        score(settings("metrics=[fid]", "metrics.features=pixels"), x, x, {}, CPU, SOURCE)
    with pytest.raises(UserError, match="metrics.classifier"):
        score(settings("metrics=[fid]", "metrics.features=classifier", f"metrics.classifier={tmp_path}/none.pt"),
              x, x, {}, CPU, SOURCE)


def test_auto_features_use_the_data_sets_classifier_when_one_exists_else_raw_pixels(digits_classifier, tmp_path,
                                                                                    monkeypatch, caplog):
    """metrics.features=auto (an image run's default): the classifier file of the data set's name when it exists,
    with the same numbers as metrics.features=classifier; raw pixels and one warning naming the fix when not;
    raw for 2-D points."""
    data, _, path = digits_classifier
    real, fake = data.test[:100], data.train[:100]
    monkeypatch.chdir(tmp_path)  # the default file is outputs/classifiers/<data name>.pt under the working folder
    auto = settings("metrics=[fid,is]", "metrics.features=auto", "metrics.cache=null")
    with caplog.at_level(logging.WARNING, logger="ganctl"):
        without = score(auto, real, fake, {}, CPU, SOURCE, data_name="digits")
    assert set(without) == {"fid"}
    assert without["fid"] == pytest.approx(score(settings("metrics=[fid]"), real, fake, {}, CPU, SOURCE)["fid"])
    assert "no classifier for digits at outputs/classifiers/digits.pt" in caplog.text
    assert "`ganctl classifier data=digits`" in caplog.text
    (tmp_path / "outputs" / "classifiers").mkdir(parents=True)
    (tmp_path / "outputs" / "classifiers" / "digits.pt").write_bytes(path.read_bytes())
    chosen = score(auto, real, fake, {}, CPU, SOURCE, data_name="digits")
    explicit = score(settings("metrics=[fid,is]", "metrics.features=classifier", f"metrics.classifier={path}",
                              "metrics.cache=null"), real, fake, {}, CPU, SOURCE)
    assert chosen == pytest.approx(explicit, rel=1e-12) and "is_mean" in chosen
    assert features.resolve(auto, "ring8", images=False) == "raw"


def test_a_classifier_of_another_data_set_is_refused_before_training(digits_classifier, tmp_path):
    """The digits classifier asked to score an 8x8 array set: refused in one line, before any step is trained."""
    _, _, path = digits_classifier
    x = torch.zeros(4, 1, 8, 8)
    with pytest.raises(UserError, match=r"was trained on digits, not mnist.*ganctl classifier data=mnist"):
        score(settings("metrics=[fid]", "metrics.features=classifier", f"metrics.classifier={path}"), x, x, {}, CPU,
              SOURCE, data_name="mnist")
    images = (np.random.default_rng(0).random((64, 8, 8)) * 255).astype(np.uint8)
    np.savez(tmp_path / "eights.npz", x=images)
    result = run_cli("train", "data=array", f"data.path={tmp_path / 'eights.npz'}", "model=dcgan", "train.steps=2",
                     "train.batch_size=8", "train.progress=false", "metrics=[fid]", "metrics.features=classifier",
                     f"metrics.classifier={path}", "hydra.run.dir=run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: the classifier {path} was trained on digits, not array: its features and classes describe that "
        f"data set; make one with `ganctl classifier data=array` or set metrics.classifier to one trained on array"]
    assert not (tmp_path / "run").exists()  # refused during setup: no run folder left behind


@pytest.mark.slow  # ~15 s on one CPU thread: 12 images through a 299x299 Inception
def test_inception_features_are_pool3_of_the_uint8_images(tmp_path):
    """Grey uint8 images -> ganctl's [-1, 1] -> the engine -> pool3 must equal pool3 of the same pixels as RGB uint8
    fed to the network directly; FID and IS are then those of the directly computed outputs."""
    weights = save_random_weights(tmp_path / "w.pth")
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8, generator=gen)
    images = pixels.float() / 127.5 - 1  # as ganctl's loaders scale uint8 images
    cfg = settings("metrics=[fid,is]", "metrics.features=inception", f"metrics.inception_weights={weights}",
                   "metrics.cache=null", "metrics.is.splits=1", "metrics.batch_size=4")
    with pytest.warns(UserWarning, match="poor, strongly biased"):  # 3 samples in 2048 dimensions
        out = score(cfg, images[:3], images[3:], {}, CPU, SOURCE)
    net = InceptionV3(weights)
    with torch.no_grad():
        pool3, _ = net(pixels.expand(-1, 3, -1, -1))
    probs = (pool3 @ net.fc.weight.T).softmax(1)  # torch-fidelity's IS: softmax of the logits without the fc bias
    with pytest.warns(UserWarning):
        expected = fid(real=pool3[:3], fake=pool3[3:])
    assert out["fid"] == pytest.approx(expected, rel=1e-5)
    assert out["is_mean"] == pytest.approx(inception_score(probs=probs[3:], splits=1)["is_mean"], rel=1e-5)
    assert 1.0 <= out["is_mean"] <= 1008.0
