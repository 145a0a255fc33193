"""attnkit.optim against torch.optim: from the same parameters and the same
gradients, several steps of SGD (momentum, dampening, Nesterov, weight decay),
Adam (L2 decay, amsgrad) and AdamW leave the same parameters; the learning-rate
schedules follow their formulas (CosineAnnealingLR: torch's own);
clip_grad_norm_ equals torch.nn.utils.clip_grad_norm_; optimiser state
survives a state_dict round trip."""

import math

import numpy as np
import pytest
import torch

import attnkit
import attnkit.nn as nn
import attnkit.optim as optim
from conftest import Tol, assert_close, normal, to_attnkit, to_numpy

STEP = Tol(1e-6, 1e-7)


def twin_params(rng, shapes=((4, 3), (5,), (2, 2, 2))):
    arrays = [normal(rng, s) for s in shapes]
    ours = [to_attnkit(a, requires_grad=True) for a in arrays]
    theirs = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    return ours, theirs


def run_steps(ours_opt, ours, theirs_opt, theirs, rng, steps=5, skip_grad_of=None):
    for step in range(steps):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if skip_grad_of is not None and i == skip_grad_of and step == 0:
                a.grad, b.grad = None, None  # this parameter gets no gradient on the first step
                continue
            g = normal(rng, tuple(b.shape))
            a.grad = to_attnkit(g)
            b.grad = torch.from_numpy(g.copy())
        ours_opt.step()
        theirs_opt.step()
        for a, b in zip(ours, theirs):
            assert_close(a, b.detach(), STEP, f"step {step}")


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
])
def test_sgd_matches_torch(kwargs, rng):
    ours, theirs = twin_params(rng)
    run_steps(optim.SGD(ours, **kwargs), ours, torch.optim.SGD(theirs, **kwargs), theirs, rng, skip_grad_of=1)


@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    dict(lr=0.003, weight_decay=0.05, amsgrad=True),
])
def test_adam_and_adamw_match_torch(kind, kwargs, rng):
    ours, theirs = twin_params(rng)
    run_steps(getattr(optim, kind)(ours, **kwargs), ours, getattr(torch.optim, kind)(theirs, **kwargs), theirs, rng,
              steps=6, skip_grad_of=2)


def test_state_dict_round_trip_resumes_identically(rng):
    ours, _ = twin_params(rng)
    copies = [to_attnkit(to_numpy(p).copy(), requires_grad=True) for p in ours]
    a, b = optim.AdamW(ours, lr=0.01), optim.AdamW(copies, lr=0.01)
    grads = [[normal(rng, tuple(p.shape)) for p in ours] for _ in range(4)]

    def step(opt, params, g):
        for p, gi in zip(params, g):
            p.grad = to_attnkit(gi)
        opt.step()

    for g in grads[:2]:
        step(a, ours, g)
        step(b, copies, g)
    restored = optim.AdamW(copies, lr=0.01)  # a fresh optimiser given b's state
    restored.load_state_dict(b.state_dict())
    for g in grads[2:]:
        step(a, ours, g)
        step(restored, copies, g)
    for p, q in zip(ours, copies):
        np.testing.assert_array_equal(to_numpy(p), to_numpy(q))
    with pytest.raises(ValueError, match=r"unexpected key \"state\.x\.exp_avg\""):
        optim.AdamW(copies[:1], lr=0.01).load_state_dict({"step": attnkit.tensor(1),
                                                          "state.x.exp_avg": attnkit.zeros(3)})
    with pytest.raises(ValueError, match="has shape"):
        optim.AdamW(copies[:1], lr=0.01).load_state_dict({"step": attnkit.tensor(1),
                                                          "state.0.exp_avg": attnkit.zeros(3)})


def test_schedules():
    p = [attnkit.zeros(2, requires_grad=True)]
    opt = optim.Adam(p, lr=1.0)
    noam = optim.lr_scheduler.InverseSqrtWarmup(opt, d_model=512, warmup=4000)
    assert opt.lr == pytest.approx(512 ** -0.5 * 1 * 4000 ** -1.5)
    rates = [opt.lr]
    for _ in range(9999):
        noam.step()
        rates.append(opt.lr)
    assert int(np.argmax(rates)) == 3999  # peak at step 4000 (t = 3999 counted from 0)
    assert rates[9999] == pytest.approx(512 ** -0.5 * 10000 ** -0.5)

    opt = optim.SGD(p, lr=0.1)
    warm = optim.lr_scheduler.WarmupCosine(opt, warmup=10, total_steps=110, min_lr=0.001)
    assert opt.lr == pytest.approx(0.01)
    for _ in range(9):
        warm.step()
    assert opt.lr == pytest.approx(0.1)
    for _ in range(51):  # to t = 60: half way through the 100 decay steps
        warm.step()
    assert warm.last_epoch == 60
    assert opt.lr == pytest.approx(0.001 + 0.099 * 0.5 * (1 + math.cos(math.pi * 0.5)))

    ours_opt, theirs_opt = optim.SGD(p, lr=0.5), torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.5)
    ours_s = optim.lr_scheduler.CosineAnnealingLR(ours_opt, T_max=7, eta_min=0.01)
    theirs_s = torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=7, eta_min=0.01)
    for _ in range(7):
        theirs_opt.step()
        ours_s.step()
        theirs_s.step()
        assert ours_opt.lr == pytest.approx(theirs_opt.param_groups[0]["lr"], rel=1e-12)


def test_clip_grad_norm_matches_torch(rng):
    ours, theirs = twin_params(rng)
    for a, b in zip(ours, theirs):
        g = normal(rng, tuple(b.shape)) * 3
        a.grad, b.grad = to_attnkit(g), torch.from_numpy(g.copy())
    norm = nn.utils.clip_grad_norm_(ours, 1.5)
    t_norm = torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert norm == pytest.approx(float(t_norm), rel=1e-6)
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, STEP, "clipped gradient")
    with pytest.raises(ValueError, match="non-finite"):
        ours[0].grad = attnkit.full((4, 3), float("nan"))
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)


def _tiny_model(seed):
    attnkit.manual_seed(seed)
    return nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.3, batch_first=True)


def test_checkpoint_resume_gives_the_same_losses(tmp_path, rng):
    """Stopping, saving (model, AdamW, generator, schedule), loading into fresh objects and going
    on gives exactly the losses of a run that never stopped; dropout included."""
    x = attnkit.from_numpy(normal(rng, (2, 5, 8)))

    def train(model, opt, schedule, steps):
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
            schedule.step()
            losses.append(loss.item())
        return losses

    model = _tiny_model(1)
    attnkit.manual_seed(7)
    opt = optim.AdamW(model.parameters(), lr=0.01)
    expected = train(model, opt, optim.lr_scheduler.WarmupCosine(opt, 2, 10), 6)

    model = _tiny_model(1)
    attnkit.manual_seed(7)
    opt = optim.AdamW(model.parameters(), lr=0.01)
    schedule = optim.lr_scheduler.WarmupCosine(opt, 2, 10)
    assert train(model, opt, schedule, 3) == expected[:3]
    path = str(tmp_path / "ckpt.safetensors")
    attnkit.save_checkpoint(path, model, opt, schedule=schedule, metadata={"epoch": "3"})

    model = _tiny_model(2)  # other weights, other generator state: the checkpoint restores both
    attnkit.manual_seed(123)
    opt = optim.AdamW(model.parameters(), lr=0.01)
    schedule = optim.lr_scheduler.WarmupCosine(opt, 2, 10)
    assert attnkit.load_checkpoint(path, model, opt, schedule=schedule) == {"epoch": "3"}
    assert train(model, opt, schedule, 3) == expected[3:]
