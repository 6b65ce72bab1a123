"""The fast options give the eager fp32 step's losses, step by step, for a fixed seed (to float tolerance).

Losses are read from TensorBoard with train.log_every=1, so each logged value is one step's loss.
"""

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganctl.engine.batches import BatchSampler
from ganctl.engine.train import train
from ganctl.errors import UserError
from tests.conftest import FAST, make_config

STEPS = 8
MLP = ["model.generator.hidden=32", "model.discriminator.hidden=32", "train.batch_size=64", f"train.steps={STEPS}",
       "eval.at_end=false", *FAST, "train.log_every=1"]
# fp32 named: an image set's recipe picks bf16 where the processor has it (conf/data_defaults/images.yaml)
DCGAN = ["data=digits", "model=dcgan", "model.z_dim=16", "model.generator.width=8", "model.discriminator.width=8",
         "train.batch_size=32", f"train.steps={STEPS}", "eval.at_end=false", "train.progress=false", "train.log_every=1",
         "train.precision=fp32"]


def losses(run_dir) -> dict[str, list[float]]:
    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0}).Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in ("loss/d", "loss/g")}


def run(tmp_path, name: str, *overrides: str) -> dict[str, list[float]]:
    train(make_config(*overrides), tmp_path / name)
    return losses(tmp_path / name)


@pytest.mark.slow
def test_compile_gives_the_eager_losses(tmp_path):
    """torch.compile (inductor: fused C++ kernels on the CPU) reorders float sums, nothing more."""
    eager = run(tmp_path, "eager", *MLP)
    compiled = run(tmp_path, "compiled", *MLP, "train.compile=true")
    for tag in eager:
        assert len(compiled[tag]) == STEPS
        torch.testing.assert_close(compiled[tag], eager[tag], rtol=1e-4, atol=1e-5, msg=tag)


def test_bf16_autocast_gives_the_fp32_losses_to_bf16_precision(tmp_path):
    """bfloat16 keeps 8 mantissa bits (relative rounding 2^-9 ~ 0.2%); over a few layers and steps the losses stay
    within a few percent of fp32's, and are not identical (the option is active)."""
    fp32 = run(tmp_path, "fp32", *DCGAN)
    bf16 = run(tmp_path, "bf16", *DCGAN, "train.precision=bf16")
    for tag in fp32:
        torch.testing.assert_close(bf16[tag], fp32[tag], rtol=0.05, atol=0.02, msg=tag)
        assert bf16[tag] != fp32[tag]


def test_channels_last_gives_the_same_losses(tmp_path):
    default = run(tmp_path, "nchw", *DCGAN)
    nhwc = run(tmp_path, "nhwc", *DCGAN, "train.channels_last=true")
    for tag in default:
        torch.testing.assert_close(nhwc[tag], default[tag], rtol=1e-5, atol=1e-6, msg=tag)


def test_streaming_batches_equal_the_on_device_ones():
    data = torch.arange(40.0).reshape(20, 2)
    on_device = BatchSampler(data, 6, seed=3)
    streamed = BatchSampler(data, 6, seed=3, device="cpu")
    streamed.streaming = True  # the host-gather path, which a set too big for the GPU takes
    for _ in range(7):  # across an epoch boundary
        assert torch.equal(streamed.next(), on_device.next())


def test_bad_speed_options_are_named(tmp_path):
    with pytest.raises(UserError, match="train.cuda_graphs=true needs a CUDA device"):
        train(make_config(*MLP, "train.cuda_graphs=true", "device=cpu"), tmp_path)


@pytest.mark.parametrize(("override", "choices"), [
    ("train.precision=fp16", "[fp32, bf16]"), ("train.on_nan=maybe", "[stop, skip_step]"),
    ("train.schedule=joint", "[alternating, simultaneous]"), ("train.batch_unit=pairs", "[samples, packs]"),
    ("train.lr_decay=cosine", "[constant, linear, cooldown]"), ("eval.monitor_mode=up", "[min, max]"),
])
def test_choice_keys_are_refused_at_composition_with_their_choices(override, choices):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException) as raised:
        make_config(override)
    assert choices in str(raised.value.__cause__), raised.value.__cause__


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("option", ["train.cuda_graphs=true", "train.compile=true", "train.channels_last=true"])
def test_cuda_fast_options_give_the_eager_losses(tmp_path, option):
    eager = run(tmp_path, "eager", *DCGAN, "device=cuda")
    fast = run(tmp_path, "fast", *DCGAN, "device=cuda", option)
    for tag in eager:
        torch.testing.assert_close(fast[tag], eager[tag], rtol=1e-3, atol=1e-4, msg=tag)


def fake_cpuinfo(monkeypatch, tmp_path, text: str | None) -> None:
    """/proc/cpuinfo reads as `text` (None: it cannot be read, as off Linux)."""
    cpuinfo = tmp_path / "cpuinfo"
    if text is not None:
        cpuinfo.write_text(text)
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path,
                                                                          *a, **k))


@pytest.mark.parametrize(("cpuinfo", "native"), [("processor\t: 0\nflags\t: fpu avx2 avx512f avx512_bf16\n", True),
                                                 ("processor\t: 0\nflags\t: fpu avx2 amx_bf16 amx_tile\n", True),
                                                 ("processor\t: 0\nflags\t: fpu avx2 avx512f avx512_vnni\n", False),
                                                 ("processor\t: 0\n", False), (None, False)])
def test_native_bf16_reads_the_cpu_flags_and_counts_unknown_as_no(cpuinfo, native, tmp_path, monkeypatch):
    from ganctl.engine import speed
    from ganctl.engine.config import if_native_bf16

    fake_cpuinfo(monkeypatch, tmp_path, cpuinfo)
    assert speed.native_bf16("cpu") is native
    assert if_native_bf16("cpu", 34000, 30000) == (34000 if native else 30000)
    if not torch.cuda.is_available():  # device=auto is the CPU here
        assert speed.native_bf16("auto") is native
    assert speed.cpu_has_bf16() is (native or "flags" not in (cpuinfo or ""))  # the warning: unknown counts as yes


@pytest.mark.parametrize(("flags", "warned"), [("flags\t: fpu avx2 fma\n", True),
                                               ("flags\t: fpu avx2 avx512f avx512_bf16\n", False),
                                               ("flags\t: fpu avx2 amx_bf16 amx_tile\n", False)])
def test_bf16_on_a_cpu_without_bf16_arithmetic_warns_with_its_cost(flags, warned, tmp_path, monkeypatch, caplog):
    from types import SimpleNamespace

    from ganctl.engine import speed

    fake_cpuinfo(monkeypatch, tmp_path, "processor\t: 0\n" + flags)
    cfg = SimpleNamespace(precision="bf16", cuda_graphs=False, on_nan="stop")
    with caplog.at_level("WARNING", logger="ganctl"):
        speed.check(cfg, torch.device("cpu"), 1)
    assert ("17x slower" in caplog.text) == warned
