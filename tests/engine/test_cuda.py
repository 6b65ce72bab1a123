"""The CUDA path: the same losses as on the CPU, and a whole run on the GPU. Skipped without a GPU."""

import copy

import pytest
import torch
from hydra.utils import instantiate

from ganctl.engine import build, checkpoint
from ganctl.engine.runs import open_run
from ganctl.engine.train import train
from ganctl.methods import penalties
from tests.conftest import FAST, make_config

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("method", ["gan", "nsgan", "wgan", "wgan_gp"])
def test_cuda_losses_equal_cpu_losses(method):
    cfg = make_config(f"method={method}")
    torch.manual_seed(0)
    g, d = build.networks(cfg, (2,), build.method(cfg))
    objective = instantiate(cfg.method)
    real, z = torch.randn(64, 2), torch.randn(64, cfg.model.z_dim)
    torch.backends.cuda.matmul.allow_tf32 = False  # compare full float32 arithmetic on both devices
    g_cuda, d_cuda = copy.deepcopy(g).cuda(), copy.deepcopy(d).cuda()
    for step in ("discriminator_step", "generator_step"):
        torch.manual_seed(1)
        cpu = getattr(objective, step)(g, d, real, z)
        torch.manual_seed(1)
        gpu = getattr(objective, step)(g_cuda, d_cuda, real.cuda(), z.cuda())
        for key in cpu:
            if key == "gp" or (method == "wgan_gp" and key == "loss" and step == "discriminator_step"):
                continue  # eps comes from each device's own RNG stream; the penalty is compared below
            # float32 reductions in a different order: agreement to ~1e-6 relative, 1e-5 allowed
            assert gpu[key].item() == pytest.approx(cpu[key].item(), rel=1e-5, abs=1e-6), (step, key)
    points = torch.randn(64, 2)
    assert penalties.gradient_penalty(d_cuda, points.cuda()).item() == pytest.approx(
        penalties.gradient_penalty(d, points).item(), rel=1e-5)


def test_cuda_run_trains_checkpoints_and_reopens_on_the_cpu(tmp_path):
    cfg = make_config("device=cuda", "train.steps=300", "optim.lr_g=1e-3", "optim.lr_d=1e-3",
                      "metrics=[wasserstein]", *FAST)
    result = train(cfg, tmp_path)
    assert result < 0.7  # the untrained generator sits near W1 = 1 (see test_train.py)
    state = checkpoint.load(tmp_path / "checkpoints" / "last.pt")  # saved from CUDA, read on the CPU
    assert state["g"]["net.0.weight"].device.type == "cpu"
    run = open_run(tmp_path, overrides=["device=cpu"])
    assert run.device.type == "cpu" and next(run.g.parameters()).device.type == "cpu"
