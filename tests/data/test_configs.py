"""conf/data/*.yaml: one help line, a `_target_` that exists, keys that are its parameters, and instantiation."""

import inspect
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig
from hydra.utils import get_method, instantiate
from omegaconf import OmegaConf

from tests.data.formats import write_mnist_folder

CONF_DATA = Path(__file__).resolve().parents[2] / "conf" / "data"
CONFIG_FILES = sorted(CONF_DATA.glob("*.yaml"))


def data_node(stem: str):
    """conf/data/<stem>.yaml as the `data` node Hydra composes from it (its defaults list is Hydra's, not data's)."""
    config = OmegaConf.load(CONF_DATA / f"{stem}.yaml")
    config.pop("defaults", None)
    return config


@pytest.mark.parametrize("file", CONFIG_FILES, ids=lambda file: file.stem)
def test_config_has_one_help_line_and_keys_that_are_parameters(file):
    lines = file.read_text().splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 10, "the first line is the help text `ganctl list` prints"
    assert not lines[1].startswith("#"), "exactly one help line"
    config = OmegaConf.to_container(OmegaConf.load(file))
    config.pop("defaults", None)  # an image set's file switches the default model (conf/data/mnist.yaml)
    target = get_method(config.pop("_target_"))
    parameters = inspect.signature(target).parameters
    assert set(config) <= set(parameters), f"keys that are not parameters of {target.__name__}"
    for key, value in config.items():  # a config value that repeats the default must repeat it exactly
        default = parameters[key].default
        if default is not inspect.Parameter.empty and key not in ("path", "name", "missing", "channel_name"):
            assert value == default, f"{file.name}: {key}={value} but the function default is {default}"


@pytest.mark.parametrize("stem, name", [("ring8", "ring8"), ("grid25", "grid25")])
def test_mixture_configs_instantiate_with_overrides(stem, name):
    config = OmegaConf.merge(data_node(stem),
                             OmegaConf.from_dotlist(["n_train=100", "n_test=10", "std=0.02"]))
    data = instantiate(config)
    assert data.name == name and data.train.shape == (100, 2) and data.mode_std == 0.02


def test_digits_config_instantiates():
    data = instantiate(data_node("digits"))
    assert data.name == "digits" and len(data.train) + len(data.test) == 1797


def test_fashion_mnist_config_reads_a_folder_given_as_path_override(tmp_path):
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    write_mnist_folder(tmp_path, images, [0, 1], images[:1], [1])
    config = OmegaConf.merge(data_node("fashion_mnist"),
                             OmegaConf.from_dotlist([f"path={tmp_path}"]))
    data = instantiate(config)
    assert data.name == "fashion_mnist" and data.train.shape == (2, 1, 28, 28)


@pytest.mark.parametrize("data", ["digits", "mnist", "fashion_mnist", "stacked_mnist", "stacked_fashion_mnist",
                                  "cifar10", "image_folder"])
def test_image_data_sets_default_to_the_conv_gan_and_an_explicit_model_wins(data):
    from tests.conftest import make_config

    assert make_config(f"data={data}").model.generator._target_ == "ganctl.nets.dcgan.DcganGenerator"
    assert make_config(f"data={data}", "model=mlp").model.generator._target_ == "ganctl.nets.mlp.MlpGenerator"
    assert make_config("data=ring8").model.generator._target_ == "ganctl.nets.mlp.MlpGenerator"


def test_image_recipe_halves_the_discriminator_and_model_dcgan_keeps_the_papers_widths():
    from tests.conftest import make_config

    recipe = make_config("data=fashion_mnist").model
    assert (recipe.generator.width, recipe.discriminator.width) == (64, 32)  # conf/model/dcgan_cpu.yaml
    paper = make_config("data=fashion_mnist", "model=dcgan").model
    assert (paper.generator.width, paper.discriminator.width) == (64, 64)
    assert make_config("data=stacked_fashion_mnist").model.discriminator.width == 64  # its recipe was measured so
    assert "width" not in make_config("data=fashion_mnist", "model=mlp").model.discriminator


@pytest.mark.parametrize("native", [True, False])
def test_image_recipe_follows_the_processor_and_an_explicit_choice_wins(native, monkeypatch):
    from ganctl.engine import speed
    from tests.conftest import make_config

    monkeypatch.setattr(speed, "native_bf16", lambda device: native)
    cfg = make_config("data=fashion_mnist")
    train = cfg.train
    # bf16 where native: 34,000 steps of 64 at 2e-4; elsewhere fp32 batches of 32 at 4e-4 until the time limit
    assert (train.precision, train.steps, train.batch_size) == (("bf16", 34000, 64) if native else ("fp32", 60000, 32))
    assert cfg.optim.lr_g == cfg.optim.lr_d == (2e-4 if native else 4e-4)
    assert (train.lr_decay, train.cooldown) == ("constant" if native else "cooldown", 0.2)  # cooled where time ends it
    assert make_config("data=fashion_mnist", "method=wgan_gp").optim.lr_g == 1e-4  # a method's own optimiser wins
    assert make_config("data=fashion_mnist", "train.batch_size=64").train.batch_size == 64
    train = make_config("data=fashion_mnist", "train.precision=fp32", "train.steps=30000").train
    assert (train.precision, train.steps) == ("fp32", 30000)
    assert make_config("data=stacked_fashion_mnist").train.precision == "fp32"  # its recipe was measured in fp32
    assert make_config("data=ring8").train.precision == "fp32"


def test_image_recipe_stops_its_loop_at_28_minutes_unless_told_otherwise():
    from tests.conftest import make_config

    assert make_config("data=fashion_mnist").train.minutes == 28  # start-up and evaluation fit in the last 2 of 30
    assert make_config("data=fashion_mnist", "train.minutes=null").train.minutes is None
    assert make_config("data=stacked_fashion_mnist").train.minutes is None  # its rates fall to 0 at train.steps
    assert make_config("data=ring8").train.minutes is None


@pytest.mark.parametrize("data", ["digits", "fashion_mnist", "cifar10", "stacked_fashion_mnist"])
def test_image_data_sets_choose_image_metrics_and_an_explicit_choice_wins(data):
    from tests.conftest import make_config

    cfg = make_config(f"data={data}")
    chosen = {k for k, v in cfg.metrics.items() if isinstance(v, DictConfig)}
    assert {"fid", "kid"} <= chosen and "mode_coverage" not in chosen
    assert ({"precision_recall", "nn1", "is", "class_coverage"} <= chosen) != data.startswith("stacked")
    assert cfg.metrics.features == ("raw" if data.startswith("stacked") else "auto")
    assert cfg.eval.monitor == ("stacked_kl" if data.startswith("stacked") else "fid")
    assert ("stacked_mnist_modes" in chosen) == data.startswith("stacked")
    explicit = make_config(f"data={data}", "metrics=[mmd]", "eval.monitor=mmd", "metrics.features=raw")
    assert {k for k, v in explicit.metrics.items() if isinstance(v, DictConfig)} == {"mmd"}
    assert explicit.metrics.features == "raw" and explicit.eval.monitor == "mmd"
    ring = make_config("data=ring8")
    assert "mode_coverage" in ring.metrics and ring.metrics.features == "raw" and ring.eval.monitor == "wasserstein"
