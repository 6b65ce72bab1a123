"""`ganctl classifier`'s engine: it learns a separable task, saves a file that loads back exactly, fails clearly."""

import pytest
import torch

from ganctl.data.base import Dataset
from ganctl.engine import checkpoint
from ganctl.engine.classifier import main, train_classifier
from ganctl.errors import UserError
from ganctl.metrics.classifier import FEATURES, Classifier, classifier_state, load_classifier


def bars(n: int, channels: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n noisy 8x8 images of 3 classes: class k is a bright horizontal bar on rows 2k+1 and 2k+2 in every channel,
    over uniform noise in [-1, -0.4]. A pixel-level rule separates the classes, so a CNN should reach ~100%."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = -1 + 0.6 * torch.rand(n, channels, 8, 8, generator=gen)
    for k in range(3):
        images[labels == k, :, 2 * k + 1 : 2 * k + 3, :] = 1.0
    return images, labels


def bar_data(channels: int = 1) -> Dataset:
    train, train_labels = bars(240, channels, seed=0)
    test, test_labels = bars(90, channels, seed=1)
    return Dataset(name="bars", train=train, test=test, train_labels=train_labels, test_labels=test_labels)


@pytest.mark.parametrize("channels", [1, 3])
def test_train_classifier_learns_a_separable_task(channels):
    net, accuracy = train_classifier(bar_data(channels), epochs=4, batch_size=32, lr=1e-3, seed=0)
    # Chance is 1/3; the bars are separable at the pixel level, so 4 epochs (32 Adam steps) should be enough for
    # (nearly) all of the 90 test images; 0.9 leaves room for a few borderline ones.
    assert accuracy >= 0.9
    assert not net.training and net.classes == 3 and net.in_channels == channels and net.side == 8
    test, labels = bars(90, channels, seed=1)
    with torch.no_grad():
        assert accuracy == pytest.approx(float((net(test).argmax(1) == labels).float().mean()), abs=1e-12)


def test_train_classifier_same_seed_same_weights():
    a, _ = train_classifier(bar_data(), epochs=1, batch_size=64, seed=3)
    b, _ = train_classifier(bar_data(), epochs=1, batch_size=64, seed=3)
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), key


def test_saved_classifier_loads_back_with_identical_logits_and_features(tmp_path):
    net, accuracy = train_classifier(bar_data(), epochs=1, batch_size=64, seed=0)
    checkpoint.save(classifier_state(net, "bars", accuracy), tmp_path / "c.pt")
    loaded = load_classifier(tmp_path / "c.pt")
    x, _ = bars(16, 1, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x)) and loaded(x).shape == (16, 3)
        assert torch.equal(loaded.features(x), net.features(x)) and loaded.features(x).shape == (16, FEATURES)
    assert loaded.data == "bars" and loaded.test_accuracy == accuracy and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    assert set(raw) == {"state_dict", "in_channels", "side", "classes", "data", "test_accuracy",
                        checkpoint.FORMAT_KEY, checkpoint.CHECKSUM_KEY}
    assert raw[checkpoint.CHECKSUM_KEY] == checkpoint.digest(raw)


def test_load_classifier_missing_or_foreign_file_is_one_line(tmp_path):
    with pytest.raises(UserError) as error:
        load_classifier(tmp_path / "none.pt")
    assert str(error.value) == (f"no classifier at {tmp_path / 'none.pt'}; train one with "
                                "`ganctl classifier data=mnist data.path=...`")
    (tmp_path / "bytes.pt").write_bytes(b"not a torch file")
    torch.save({"g": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    wrong = classifier_state(Classifier(1, 8, 3), "bars", 1.0)
    wrong["side"] = 28  # the weights no longer fit the net the sizes describe
    torch.save(wrong, tmp_path / "wrong.pt")
    for name in ("bytes.pt", "checkpoint.pt", "wrong.pt"):
        with pytest.raises(UserError, match="is not a ganctl classifier") as error:
            load_classifier(tmp_path / name)
        assert "\n" not in str(error.value) and "ganctl classifier data=mnist" in str(error.value)


def test_train_classifier_refuses_unlabelled_or_non_image_data():
    unlabelled = Dataset(name="plain", train=torch.zeros(4, 1, 8, 8), test=torch.zeros(2, 1, 8, 8))
    with pytest.raises(UserError, match="data plain has no labels"):
        train_classifier(unlabelled)
    points = Dataset(name="ring8", train=torch.zeros(4, 2), test=torch.zeros(2, 2),
                     train_labels=torch.zeros(4, dtype=torch.int64), test_labels=torch.zeros(2, dtype=torch.int64))
    with pytest.raises(UserError, match="square images"):
        train_classifier(points)


def test_main_composes_the_config_and_saves_under_outputs_classifiers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default file is relative to the working folder
    accuracy, path = main(["data=digits", "classifier.epochs=1", "device=cpu"])
    assert path == tmp_path.joinpath("outputs", "classifiers", "digits.pt").relative_to(tmp_path)
    loaded = load_classifier(path)
    assert (loaded.in_channels, loaded.side, loaded.classes, loaded.data) == (1, 8, 10, "digits")
    assert loaded.test_accuracy == accuracy and 0.1 < accuracy <= 1  # one epoch already beats chance (0.1)
    with pytest.raises(UserError, match="classifier.epochs=0"):
        main(["data=digits", "classifier.epochs=0"])
    with pytest.raises(UserError, match="ending in .pt"):
        main(["data=digits", "classifier.out=model.txt"])
