"""`ganctl classifier` as a user runs it: a subprocess in a fresh working folder."""

from ganctl.metrics.classifier import load_classifier
from tests.conftest import run_cli


def test_classifier_command_trains_on_digits_prints_accuracy_and_saves(tmp_path):
    result = run_cli("classifier", "data=digits", "classifier.epochs=1", "device=cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "outputs" / "classifiers" / "digits.pt"
    loaded = load_classifier(saved)
    # The printed accuracy is the one stored in the file (rounded to 4 places).
    assert f"test accuracy: {loaded.test_accuracy:.4f}" in result.stdout
    assert "outputs/classifiers/digits.pt" in result.stdout
    assert not list(tmp_path.glob("outputs/*/*/.hydra"))  # no run folder: a classifier is not a training run

