"""EMA of G: hand values of θ_EMA ← β θ_EMA + (1 − β) θ, the warm-up, buffers, and exact resume through fit."""
import pytest
import torch
from torch import nn

from gantut import data, fit, nets
from gantut.ema import EMA, recompute_batchnorm
from gantut.gan import GANStep


def lin(w: float) -> nn.Linear:
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(w)
    return m


def test_beta_half_after_two_updates():
    G = lin(0.0)
    ema = EMA(G, beta=0.5)
    G.weight.data.fill_(4.0)
    ema.update()  # 0.5·0 + 0.5·4 = 2
    assert ema.G_ema.weight.item() == 2.0
    G.weight.data.fill_(8.0)
    ema.update()  # 0.5·2 + 0.5·8 = 5
    assert ema.G_ema.weight.item() == 5.0
    assert ema.updates == 2
    assert G.weight.item() == 8.0  # G is read, never changed


def test_beta_zero_copies_G_and_shadow_is_eval_without_grad():
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(G, beta=0.0)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.5)
    ema.update()
    for a, b in zip(ema.G_ema.parameters(), G.parameters()):
        assert torch.equal(a, b)
        assert not a.requires_grad
    assert not ema.G_ema.training and G.training


def test_buffers_are_copied_not_averaged():
    G = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    ema = EMA(G, beta=0.9)
    G(torch.randn(8, 2) * 3 + 5)  # train-mode forward: running stats move
    ema.update()
    bn, bn_ema = G[1], ema.G_ema[1]
    assert torch.equal(bn_ema.running_mean, bn.running_mean)
    assert torch.equal(bn_ema.running_var, bn.running_var)
    assert bn_ema.num_batches_tracked.item() == 1


def test_warm_up_copies_until_start_then_averages():
    G = lin(0.0)
    ema = EMA(G, beta=0.5, start=2)
    for step, w in ((1, 2.0), (2, 6.0)):
        G.weight.data.fill_(w)
        ema.update(step)
        assert ema.G_ema.weight.item() == w  # steps <= start: a copy
    assert ema.updates == 0
    G.weight.data.fill_(10.0)
    ema.update(3)  # 0.5·6 + 0.5·10 = 8
    assert ema.G_ema.weight.item() == 8.0


def test_bad_beta_and_start():
    with pytest.raises(ValueError, match="beta"):
        EMA(lin(0.0), beta=1.0)
    with pytest.raises(ValueError, match="start"):
        EMA(lin(0.0), start=-1)


def test_callback_every_n_updates_after_multiples_only():
    G = lin(0.0)
    ema = EMA(G, beta=0.5)

    class Step:
        def __call__(self, batch):
            with torch.no_grad():
                G.weight.add_(1.0)
            return {}

    fit(Step(), None, 5, callbacks=[ema.callback(every_n=2)])
    # updates after step 2 (G = 2): 1.0; after step 4 (G = 4): 0.5·1 + 0.5·4 = 2.5; none at the last step 5
    assert ema.updates == 2
    assert ema.G_ema.weight.item() == 2.5


def state_dict_roundtrip():
    G = lin(3.0)
    ema = EMA(G, beta=0.25, start=7)
    ema.update()
    other = EMA(lin(0.0), beta=0.9)
    other.load_state_dict(ema.state_dict())
    return ema, other


def test_state_dict_roundtrip():
    ema, other = state_dict_roundtrip()
    assert other.G_ema.weight.item() == ema.G_ema.weight.item() == 3.0
    assert (other.beta, other.start, other.updates) == (0.25, 7, 1)


def _run(tmp_path, steps, stop=None):
    torch.manual_seed(0)
    G = nets.mlp2d_G(z_dim=2, hidden=8, depth=1, batchnorm=True)
    D = nets.mlp2d_D(hidden=8, depth=1)
    opt_G, opt_D = (torch.optim.Adam(m.parameters(), lr=1e-2) for m in (G, D))
    step = GANStep(G, D, opt_G, opt_D, 2)
    batches = data.TensorBatches(torch.randn(64, 2), 16, generator=torch.Generator().manual_seed(1))
    ema = EMA(G, beta=0.9, start=2)
    kw = dict(state={**step.state, "ema": ema}, callbacks=[ema.callback()], checkpoint=tmp_path / "ema.pt",
              progress=False)
    if stop is not None:
        fit(step, batches, stop, checkpoint_every=None, **kw)
    fit(step, batches, steps, **kw)
    return ema


def test_resume_through_fit_is_exact(tmp_path):
    whole = _run(tmp_path / "whole", 10)
    resumed = _run(tmp_path / "resumed", 10, stop=4)  # 4 steps, then a new fit resumes from the checkpoint
    assert resumed.updates == whole.updates == 8
    for a, b in zip(whole.G_ema.state_dict().values(), resumed.G_ema.state_dict().values()):
        assert torch.equal(a, b)


def test_recompute_batchnorm_is_the_average_of_batch_statistics():
    torch.manual_seed(0)
    lin_ = nn.Linear(3, 2)
    G = nn.Sequential(lin_, nn.BatchNorm1d(2))
    G[1].running_mean.fill_(100.0)  # stale statistics
    gen = torch.Generator().manual_seed(5)
    recompute_batchnorm(G, 3, n_batches=4, batch_size=8, generator=gen)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        h = [lin_(torch.randn(8, 3, generator=gen)) for _ in range(4)]
    assert torch.allclose(G[1].running_mean, torch.stack([b.mean(0) for b in h]).mean(0), atol=1e-6)
    assert torch.allclose(G[1].running_var, torch.stack([b.var(0) for b in h]).mean(0), atol=1e-6)
    assert not G.training and G[1].momentum == 0.1
