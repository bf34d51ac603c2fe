"""Shapes, parameter counts and initial-state properties of the shared architectures."""
import pytest
import torch
from torch import nn

from gantut import nets


def linear_params(n_in, n_out):
    return n_in * n_out + n_out


def test_course_G_shape_and_param_count():
    G = nets.course_G()
    x = G(torch.randn(3, 100))
    assert x.shape == (3, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1  # tanh
    by_hand = linear_params(100, 256) + linear_params(256, 512) + linear_params(512, 1024) + linear_params(1024, 784)
    assert by_hand == 1_486_352
    assert nets.count_params(G) == by_hand


def test_course_G_batchnorm_uses_default_eps():
    G = nets.course_G(batchnorm=True)
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [bn.num_features for bn in bns] == [256, 512, 1024]
    assert all(bn.eps == 1e-5 for bn in bns)  # not BatchNorm1d(C, 0.8), which sets eps = 0.8
    # each BN adds 2·C affine parameters
    assert nets.count_params(G) == 1_486_352 + 2 * (256 + 512 + 1024)
    assert G(torch.randn(4, 100)).shape == (4, 1, 28, 28)


def test_course_D_shape_param_count_and_options():
    D = nets.course_D()
    x = torch.randn(5, 1, 28, 28)
    assert D(x).shape == (5, 1)
    assert D(x.view(5, 784)).shape == (5, 1)
    assert D.features(x).shape == (5, 256)
    by_hand = linear_params(784, 1024) + linear_params(1024, 512) + linear_params(512, 256) + linear_params(256, 1)
    assert by_hand == 1_460_225
    assert nets.count_params(D) == by_hand
    assert not any(isinstance(m, nn.Dropout) for m in D.modules())
    D_drop = nets.course_D(dropout=0.3)
    drops = [m for m in D_drop.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(m.p == 0.3 for m in drops)
    assert nets.count_params(D_drop) == by_hand
    assert nets.course_D(out_dim=9)(x).shape == (5, 9)  # MD-GAN embedding


def test_course_D_names_the_fix_on_a_wrong_input_size():
    with pytest.raises(ValueError, match="784 input values"):
        nets.course_D()(torch.randn(2, 1, 32, 32))


def test_course_D_returns_raw_logits():
    D = nets.course_D()
    with torch.no_grad():
        D.head.bias.fill_(50.0)
    assert (D(torch.zeros(2, 1, 28, 28)) > 1).all()  # no sigmoid at the end


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_mlp2d_shapes_and_depth(depth):
    G = nets.mlp2d_G(depth=depth, hidden=16)
    D = nets.mlp2d_D(depth=depth, hidden=16)
    z = torch.randn(7, 2)
    assert G(z).shape == (7, 2)
    assert D(G(z)).shape == (7, 1)
    assert D.features(z).shape == (7, 16)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == depth + 1
    assert sum(isinstance(m, nn.ReLU) for m in G.modules()) == depth
    assert sum(isinstance(m, nn.LeakyReLU) for m in D.modules()) == depth
    # 2 → 16 (→ 16)* → 2
    assert nets.count_params(G) == linear_params(2, 16) + (depth - 1) * linear_params(16, 16) + linear_params(16, 2)


def test_mlp2d_md_gan_shapes():
    G = nets.mlp2d_G(hidden=128, depth=2, out_act="tanh")
    D = nets.mlp2d_D(out_dim=9)
    y = G(torch.rand(4, 2) * 2 - 1)
    assert y.abs().max() <= 1 and D(y).shape == (4, 9)


def test_generic_mlp():
    m = nets.MLP([3, 5, 4, 2], act="tanh", out_act="sigmoid", batchnorm=True, dropout=0.1)
    y = m(torch.randn(6, 3))
    assert y.shape == (6, 2) and ((y > 0) & (y < 1)).all()
    assert m.features(torch.randn(6, 3)).shape == (6, 4)
    with pytest.raises(ValueError, match="activation"):
        nets.MLP([2, 2], act="swish")


@pytest.mark.parametrize("img_size,channels", [(28, 1), (32, 1), (32, 3), (64, 3)])
def test_dcgan_shapes(img_size, channels):
    G = nets.init_dcgan_weights(nets.dcgan_G(z_dim=16, img_size=img_size, channels=channels, base=8))
    D = nets.init_dcgan_weights(nets.dcgan_D(img_size=img_size, channels=channels, base=8))
    x = G(torch.randn(2, 16))
    assert x.shape == (2, channels, img_size, img_size)
    assert x.abs().max() <= 1
    assert G(torch.randn(2, 16, 1, 1)).shape == x.shape  # z as N×z×1×1 works too
    assert D(x).shape == (2, 1)
    feats = D.features(x)
    assert feats.shape == (2, D.feature_dim)
    # the last hidden map is base·2^(n−1) channels at 7×7 (28 px) or 4×4 (32/64 px)
    s0, n = {28: (7, 2), 32: (4, 3), 64: (4, 4)}[img_size]
    assert D.feature_dim == 8 * 2 ** (n - 1) * s0 * s0


def test_dcgan_D_options():
    critic = nets.dcgan_D(img_size=32, channels=1, base=8, batchnorm=False, out_dim=9)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())  # WGAN-GP critic
    assert critic(torch.randn(3, 1, 32, 32)).shape == (3, 9)
    bn = nets.dcgan_D(img_size=32, channels=1, base=8)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 2  # none on the first conv
    sn = nets.dcgan_D(img_size=32, channels=1, base=8, spectral_norm=True, batchnorm=False)
    convs = [m for m in sn.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(hasattr(m, "parametrizations") for m in convs)
    assert sn(torch.randn(2, 1, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="img_size"):
        nets.dcgan_D(img_size=48)
    with pytest.raises(ValueError, match="1×32×32"):
        critic(torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize("img_size", [32, 64])
def test_dcgan_switches_place_attention_and_drop_batchnorm(img_size):
    """SAGAN's switches: attention after the layer whose output is r×r in both nets, SN on every (transposed)
    conv of G, BatchNorm removable from G; a resolution the nets do not have is refused with the choices."""
    G = nets.dcgan_G(16, img_size, 3, base=8, batchnorm=False, spectral_norm=True, attention_at=16)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    seen = {}
    G.attention.register_forward_hook(lambda m, i, o: seen.update(G=i[0].shape))
    D = nets.dcgan_D(img_size, 3, base=8, attention_at=16)
    D.attention.register_forward_hook(lambda m, i, o: seen.update(D=i[0].shape))
    x = G(torch.randn(2, 16))
    assert x.shape == (2, 3, img_size, img_size) and D(x).shape == (2, 1)
    assert seen["G"][2:] == (16, 16) and seen["D"][2:] == (16, 16)
    assert seen["D"][1] == (8 if img_size == 32 else 16)
    assert seen["G"][1] == (8 if img_size == 32 else 16)
    assert nets.dcgan_G(16, img_size, 1, base=8).attention is None
    with pytest.raises(ValueError, match="attention block at one of"):
        nets.dcgan_G(16, img_size, 1, base=8, attention_at=img_size)
    with pytest.raises(ValueError, match="attention block at one of"):
        nets.dcgan_D(img_size, 1, base=8, attention_at=3)


def test_dcgan_G_with_default_switches_is_the_plain_dcgan():
    """The switches at their defaults build the same modules in the same order (so old checkpoints load)."""
    G = nets.dcgan_G(16, 32, 1, base=8)
    kinds = [type(m).__name__ for m in G.net]
    assert kinds == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 3 + ["ConvTranspose2d", "Tanh"]
    assert all(m.bias is None for m in G.net if isinstance(m, nn.ConvTranspose2d))


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    D = nets.init_dcgan_weights(nets.dcgan_D(img_size=64, channels=3, base=32))
    w = torch.cat([m.weight.flatten() for m in D.modules() if isinstance(m, nn.Conv2d)])
    assert abs(w.mean().item()) < 2e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)
    g = torch.cat([m.weight for m in D.modules() if isinstance(m, nn.BatchNorm2d)])
    assert g.mean().item() == pytest.approx(1.0, abs=0.01)
    sn = nets.init_dcgan_weights(nets.dcgan_D(img_size=32, channels=1, base=8, spectral_norm=True))
    orig = sn.trunk[0].parametrizations.weight.original
    assert orig.std().item() < 0.05


def test_self_attention_is_identity_at_init_and_learns():
    torch.manual_seed(0)
    att = nets.SelfAttention(16)
    assert att.gamma.item() == 0.0
    assert att.query.out_channels == 2 and att.key.out_channels == 2 and att.value.out_channels == 16
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(att(x), x)
    beta = att.last_attention
    assert beta.shape == (2, 25, 25)
    assert torch.allclose(beta.sum(-1), torch.ones(2, 25))  # softmax over positions j
    with torch.no_grad():
        att.gamma.fill_(1.0)
    y = att(x)
    assert y.shape == x.shape and not torch.equal(y, x)
    att_sn = nets.SelfAttention(8, spectral_norm=True)
    assert att_sn(torch.randn(1, 8, 3, 3)).shape == (1, 8, 3, 3)


def test_self_attention_output_is_attention_weighted_values():
    # One query position per sample attends to values; with γ = 1: y = x + Σ_j β_ij v_j.
    att = nets.SelfAttention(8)
    with torch.no_grad():
        att.gamma.fill_(1.0)
    x = torch.randn(1, 8, 2, 2)
    y = att(x)
    v = att.value(x).flatten(2)[0]  # C × HW
    beta = att.last_attention[0]  # HW × HW
    o = (v @ beta.T).view(8, 2, 2)
    assert torch.allclose(y[0], x[0] + o, atol=1e-6)


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    lin = nets.spectral_norm(nn.Linear(6, 4), n_power_iterations=20)
    lin.train()
    lin(torch.randn(1, 6))
    sigma = torch.linalg.matrix_norm(lin.weight.detach(), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=1e-3)
    # a conv's weight is normalised as the (C_out × C_in·k·k) matrix (torch's parametrization)
    conv = nets.spectral_norm(nn.Conv2d(3, 5, 3), n_power_iterations=30).train()
    conv(torch.randn(1, 3, 4, 4))
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=1e-3)


def test_count_params_trainable_only():
    m = nn.Linear(3, 2)
    m.bias.requires_grad_(False)
    assert nets.count_params(m) == 8
    assert nets.count_params(m, trainable_only=True) == 6


def test_device_of_reads_parameters_then_buffers_then_defaults_to_cpu():
    import torch
    from gantut.nets import device_of
    assert device_of(torch.nn.Linear(2, 2).to("meta")) == torch.device("meta")
    bn = torch.nn.BatchNorm1d(3, affine=False).to("meta")  # buffers only
    assert device_of(bn) == torch.device("meta")
    assert device_of(torch.nn.ReLU()) == torch.device("cpu")
