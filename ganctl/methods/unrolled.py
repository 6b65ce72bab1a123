"""Unrolled GAN, Metz, Poole, Pfau, Sohl-Dickstein 2016, arXiv:1611.02163 (ICLR 2017).

The generator is scored against the discriminator it would face after K more optimiser steps of D:

    theta_D^0 = theta_D,   theta_D^{k+1} = U(theta_D^k, grad_{theta_D^k} L_D(theta_G, theta_D^k), state_k)
    L_G = -E[log D(G(z); theta_D^K)] = E[softplus(-l_K)]       (non-saturating; l_K = D's logit at theta_D^K)
    dL_G/dtheta_G = dL_G/dtheta_G|_{theta_D^K fixed} + dL_G/dtheta_D^K . dtheta_D^K/dtheta_G

U is D's own optimiser update (Adam or RMSprop, with its hyperparameters), continuing from the optimiser's
current state (step count, moments) as the authors' code does by unrolling the real optimiser's update ops.
L_D is the BCE discriminator loss of `gan`/`nsgan`. D's real parameters, buffers (batch-norm running
statistics, spectral-norm vectors) and optimiser state are untouched: the look-ahead runs on copies through
`torch.func.functional_call`. D itself is trained exactly as in `nsgan`, and K = 0 gives nsgan's generator
loss and gradient exactly (only D's batch-norm running statistics, which nsgan's G step updates, stay as they are).

Choices, with the reasons:
- Generator loss. The paper writes L_G as f(theta_G, theta_D^K), the minimax value
  f = E[log D(x)] + E[log(1 - D(G(z)))], and its 2-D mixture experiment minimises that saturating form
  (Appendix A; the authors' notebook poolio/unrolled_gan minimises -L_D at the unrolled parameters). ganctl's
  default is the non-saturating -log D(G(z)), like every other objective here, so that K = 0 is exactly `nsgan`.
  `generator_loss=minimax` gives the paper's f = -L_D(theta_G, theta_D^K); through the unrolling its data term
  E[log D(x; theta_D^K)] then also moves G.
- Data for the look-ahead. Every look-ahead step and the final loss use the same real batch (the last D
  step's) and the same samples G(z) (one forward of G, one z), as the notebook does: its graph_replace copies
  of D's update all read the same data and noise tensors. Gradients flow from each step's D loss back into
  G(z), which is what the second term above differentiates.
- second_order=true (the paper's method): the look-ahead gradients are taken with create_graph=True and
  G's gradient includes dtheta_D^K/dtheta_G. second_order=false stops the gradient at theta_D^K: G gets the
  plain gradient of L_G at the look-ahead discriminator, the first term only (the paper likens this to K extra
  D steps before each G step, here without changing D). Cheaper: no second derivatives, no stored graph.
- One update for all of D's parameters. When they share one optimiser group and step count, the look-ahead
  concatenates them (and their optimiser state) into one vector and makes one elementwise update per step
  (`_FlatUpdate`): the same numbers with an eighth of the operations on the 2-D nets, 1.24x the steps/s.
- sqrt at zero. Adam's and RMSprop's sqrt(v) has an infinite derivative at v = 0 (a D weight whose gradient
  has always been exactly 0), which would turn G's second-order gradient into NaN (inf * 0). `_sqrt` has the
  same value and a zero derivative there.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ganctl.errors import UserError
from ganctl.methods.base import bce_discriminator_terms
from ganctl.methods.gan import Gan

GENERATOR_LOSSES = ("non_saturating", "minimax")


class Unrolled(Gan):
    def __init__(self, unroll_steps: int = 5, second_order: bool = True, generator_loss: str = "non_saturating",
                 n_critic: int = 1):
        super().__init__(n_critic)
        if unroll_steps < 0:
            raise UserError(f"method.unroll_steps={unroll_steps} must be 0 (plain nsgan) or positive")
        if generator_loss not in GENERATOR_LOSSES:
            raise UserError(f"method.generator_loss={generator_loss} is not known; choose one of: "
                            f"{', '.join(GENERATOR_LOSSES)}")
        self.unroll_steps, self.second_order, self.generator_loss = unroll_steps, second_order, generator_loss
        self.double_backward = ("g",) if second_order else ()
        self.opt_d: torch.optim.Optimizer | None = None

    def attach_optimizers(self, opt_g, opt_d):
        if not isinstance(opt_d, (torch.optim.Adam, torch.optim.RMSprop)):
            raise UserError(f"method=unrolled imitates D's optimiser in its look-ahead and knows Adam and RMSprop, "
                            f"not {type(opt_d).__name__}; set optim.name=adam or optim.name=rmsprop")
        self.opt_d = opt_d

    def generator_step(self, g, d, real, z):
        fake = g(z)
        params, buffers = self.lookahead(d, real, fake)
        d_fake = functional_call(d, (params, buffers), (fake,))
        if self.generator_loss == "minimax":
            # f(theta_G, theta_D^K) = -L_D(theta_D^K); its data term depends on G only through theta_D^K
            loss = -bce_discriminator_terms(functional_call(d, (params, buffers), (real,)), d_fake)[0]
        else:
            loss = nn.functional.softplus(-d_fake).mean()
        return {"loss": loss, "d_fake_unrolled": torch.sigmoid(d_fake).mean()}

    def lookahead(self, d: nn.Module, real: Tensor, fake: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """theta_D^K and D's buffers after K steps of D's optimiser on (real, fake), as dicts for functional_call.

        With second_order, theta_D^K is a differentiable function of `fake` (and so of theta_G); otherwise it is
        detached. D, its buffers and the optimiser's state are read, never written.
        """
        # Our own tensors: the engine has set requires_grad_(False) on D for the generator step.
        params = {name: p.detach() for name, p in d.named_parameters()}
        buffers = {name: b.clone() for name, b in d.named_buffers()}  # running stats change only in the copy
        if self.unroll_steps == 0:
            return params, buffers
        if self.opt_d is None:
            raise RuntimeError("Unrolled.generator_step needs D's optimiser: call attach_optimizers first")
        rule = _adam_step if isinstance(self.opt_d, torch.optim.Adam) else _rmsprop_step
        # Read at every step, never cached: on resume the engine loads the saved state after attach_optimizers.
        group_of = {id(p): group for group in self.opt_d.param_groups for p in group["params"]}
        # (name, hyperparameters, a copy of its optimiser state) per trained parameter; the others stay fixed
        trained = [(name, group_of[id(p)], dict(self.opt_d.state.get(p, {})))
                   for name, p in d.named_parameters() if id(p) in group_of]
        if not self.second_order:
            fake = fake.detach()
        flat = _FlatUpdate.of(trained, params)
        for step in range(self.unroll_steps):
            if step == 0 or not self.second_order:
                if flat is not None:
                    params.update(flat.views(flat.start(params)))
                else:
                    params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
            loss, _ = bce_discriminator_terms(functional_call(d, (params, buffers), (real,)),
                                              functional_call(d, (params, buffers), (fake,)))
            grads = torch.autograd.grad(loss, [params[name] for name, _, _ in trained],
                                        create_graph=self.second_order, allow_unused=True)
            with torch.set_grad_enabled(self.second_order):
                if flat is not None and all(grad is not None for grad in grads):
                    params.update(flat.views(flat.step(rule, grads)))
                else:
                    # A parameter D does not use (torch's optimisers skip it, so must we): known at step 0, before
                    # the flat update has moved any state, and the same at every step.
                    flat = None
                    for (name, group, state), grad in zip(trained, grads):
                        if grad is not None:  # as in torch's optimisers: a parameter without a gradient is skipped
                            params[name] = rule(params[name], grad, group, state)
        if not self.second_order:
            params = {name: p.detach() for name, p in params.items()}
        return params, buffers


class _FlatUpdate:
    """D's trained parameters and their optimiser state as one flat vector, so that each look-ahead step is one
    optimiser update on one tensor instead of one per parameter.

    Why: at the 2-D benchmark's size a step is bound by per-operator cost, and the update's ~15 elementwise ops
    (and their double backward) per parameter were a third of an unrolled step's time. The update is elementwise,
    so on the concatenation it computes the same numbers. Used when every trained parameter shares one parameter
    group and one step count (the usual single-group optimiser); otherwise the update runs per parameter.
    """

    def __init__(self, names: list[str], shapes: list[torch.Size], group: dict, state: dict):
        self.names, self.shapes, self.group, self.state = names, shapes, group, state
        self.sizes = [shape.numel() for shape in shapes]
        self.flat: Tensor | None = None

    @classmethod
    def of(cls, trained: list[tuple[str, dict, dict]], params: dict[str, Tensor]) -> _FlatUpdate | None:
        if not trained:
            return None
        group, first = trained[0][1], trained[0][2]
        steps = [_steps(s) for _, _, s in trained]
        if any(torch.is_tensor(t) for t in steps):
            return None  # step counts kept on the GPU: comparing them would cost a host sync every G step
        if any(g is not group or s.keys() != first.keys() or t != steps[0] for (_, g, s), t in zip(trained, steps)):
            return None
        state = {key: torch.cat([s[key].reshape(-1) for _, _, s in trained])
                 for key in first if key != "step"}
        if "step" in first:
            state["step"] = first["step"]
        return cls([name for name, _, _ in trained], [params[name].shape for name, _, _ in trained], group, state)

    def start(self, params: dict[str, Tensor]) -> Tensor:
        """theta as one leaf vector (a fresh start of the graph: step 0, or every step of the first-order method)."""
        flat = torch.cat([params[name].reshape(-1) for name in self.names]) if self.flat is None else self.flat
        self.flat = flat.detach().requires_grad_(True)
        return self.flat

    def step(self, rule, grads) -> Tensor:
        self.flat = rule(self.flat, torch.cat([grad.reshape(-1) for grad in grads]), self.group, self.state)
        return self.flat

    def views(self, flat: Tensor) -> dict[str, Tensor]:
        return {name: piece.view(shape) for name, piece, shape in zip(self.names, flat.split(self.sizes), self.shapes)}


def _sqrt(v: Tensor) -> Tensor:
    """sqrt(v) for v >= 0, with derivative 0 instead of inf at v = 0 (the double `where` keeps NaN out)."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, 1.0).sqrt(), 0.0)


def _steps(state: dict) -> float | Tensor:
    """Steps taken so far: a float, or left on the GPU (fused/capturable Adam) to avoid a host sync."""
    step = state.get("step", 0)
    return float(step) if not torch.is_tensor(step) or step.device.type == "cpu" else step


def _adam_step(p: Tensor, grad: Tensor, group: dict, state: dict) -> Tensor:
    """One step of torch.optim.Adam (and AdamW) without in-place ops, so it can be differentiated; `state`
    (a copy of the optimiser's, for this parameter) is advanced to hold new tensors."""
    lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
    if group.get("maximize", False):
        grad = -grad
    if wd and group.get("decoupled_weight_decay", False):
        p = p * (1 - lr * wd)
    elif wd:
        grad = grad + wd * p
    state["step"] = t = _steps(state) + 1
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * grad
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * grad * grad
    state["exp_avg"], state["exp_avg_sq"] = m, v
    if group.get("amsgrad", False):
        v = state["max_exp_avg_sq"] = torch.maximum(state.get("max_exp_avg_sq", torch.zeros_like(v)), v)
    denom = _sqrt(v) / (1 - beta2 ** t) ** 0.5 + eps
    return p - lr / (1 - beta1 ** t) * m / denom


def _rmsprop_step(p: Tensor, grad: Tensor, group: dict, state: dict) -> Tensor:
    """One step of torch.optim.RMSprop without in-place ops; see `_adam_step`."""
    lr, alpha, eps, wd, momentum = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
    if group.get("maximize", False):
        grad = -grad
    if wd:
        grad = grad + wd * p
    state["step"] = _steps(state) + 1
    square_avg = state["square_avg"] = alpha * state.get("square_avg", 0.0) + (1 - alpha) * grad * grad
    if group["centered"]:
        grad_avg = state["grad_avg"] = alpha * state.get("grad_avg", 0.0) + (1 - alpha) * grad
        avg = _sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = _sqrt(square_avg) + eps
    if momentum > 0:
        buf = state["momentum_buffer"] = momentum * state.get("momentum_buffer", 0.0) + grad / avg
        return p - lr * buf
    return p - lr * grad / avg
