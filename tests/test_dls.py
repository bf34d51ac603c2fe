"""Chapter 12's DLS (gantut.dls): the scale, L_enc, the variance tracker, the step, PSNR/SSIM, on hand values."""
import math

import pytest
import torch

from gantut import dls, nets
from gantut import experiments_mnist as em


def test_latent_scale_sums_to_d_and_is_one_for_uniform_v():
    v = torch.rand(100) * 3
    s = dls.latent_scale(v)
    assert float((s ** 2).sum()) == pytest.approx(100.0, rel=1e-5)
    assert torch.allclose(dls.latent_scale(torch.full((7,), 0.3)), torch.ones(7))
    # by hand: v = (1, 4), √v = (1, 2), ‖√v‖ = √5, s = √2·(1, 2)/√5
    assert torch.allclose(dls.latent_scale(torch.tensor([1.0, 4.0])),
                          torch.tensor([math.sqrt(2 / 5), 2 * math.sqrt(2 / 5)]))
    # an element the encoder never predicts (v = 0) gets s = 0: G stops reading it
    assert dls.latent_scale(torch.tensor([0.0, 1.0])).tolist() == [0.0, pytest.approx(math.sqrt(2))]
    with pytest.raises(ValueError, match="undefined"):
        dls.latent_scale(torch.zeros(3))
    with pytest.raises(ValueError, match="vector"):
        dls.latent_scale(torch.ones(2, 3))


def test_encoder_loss_on_hand_values():
    z = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    z_hat = torch.tensor([[0.0, 1.0], [1.0, 1.0]])        # squared errors (1, 1) and (1, 4)
    assert float(dls.encoder_loss(z, z_hat)) == pytest.approx(7 / 4)
    s = torch.tensor([2.0, 1.0])                          # × s² = (4, 1): (4, 1) and (4, 4)
    assert float(dls.encoder_loss(z, z_hat, s)) == pytest.approx(13 / 4)
    with pytest.raises(ValueError, match="same shape"):
        dls.encoder_loss(z, z_hat[:1])


def test_a_constant_zero_predictor_scores_one_with_and_without_the_scale():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200_000, 10, generator=g)
    s = dls.latent_scale(torch.rand(10, generator=g) + 0.01)
    zero = torch.zeros_like(z)
    assert float(dls.encoder_loss(z, zero)) == pytest.approx(1.0, abs=0.01)
    assert float(dls.encoder_loss(z, zero, s)) == pytest.approx(1.0, abs=0.01)   # (1/d)·Σ sᵢ² = 1


def test_variance_tracker_sma_is_the_mean_of_the_last_window_batch_means():
    t = dls.VarianceTracker(2, "sma", window=3)            # FIFO of 3, initialised to ones
    assert t.v.tolist() == [1.0, 1.0]
    t.update(torch.tensor([2.0, 0.0]))
    t.update(torch.tensor([4.0, 0.0]))
    assert t.v.tolist() == [pytest.approx(7 / 3), pytest.approx(1 / 3)]   # (2, 4, 1) and (0, 0, 1)
    t.update(torch.tensor([6.0, 3.0]))
    assert t.v.tolist() == [4.0, 1.0]
    t.update(torch.tensor([8.0, 3.0]))                     # replaces the oldest, (2, 0)
    assert t.v.tolist() == [6.0, 2.0] and int(t.updates) == 4


def test_variance_tracker_ema_on_a_known_sequence_and_its_state_round_trips():
    t = dls.VarianceTracker(2, "ema", beta=0.5, init=1.0)
    t.update(torch.tensor([3.0, 1.0]))
    assert t.v.tolist() == [2.0, 1.0]
    t.update(torch.tensor([0.0, 5.0]))
    assert t.v.tolist() == [1.0, 3.0]
    assert dls.VarianceTracker(4, "ema").v.tolist() == [pytest.approx(1e-4)] * 4      # DLSGAN's start
    u = dls.VarianceTracker(2, "ema", beta=0.5)
    u.load_state_dict(t.state_dict())
    assert u.v.tolist() == [1.0, 3.0]
    sma = dls.VarianceTracker(2, "sma", window=2)
    sma.update(torch.tensor([5.0, 1.0]))
    other = dls.VarianceTracker(2, "sma", window=2)
    other.load_state_dict(sma.state_dict())
    other.update(torch.tensor([7.0, 3.0]))
    assert other.v.tolist() == [6.0, 2.0]                  # the position came with the state: (5, 7), (1, 3)
    with pytest.raises(ValueError, match="one of"):
        dls.VarianceTracker(2, "median")
    with pytest.raises(ValueError, match="elements"):
        t.update(torch.ones(3))


def test_scaled_latent_g_feeds_z_times_s():
    G = nets.dcgan_G(4, 32, 1, 4)
    tracker = dls.VarianceTracker(4, "ema", beta=0.0)
    tracker.update(torch.tensor([1.0, 4.0, 0.25, 1.0]))
    sg = dls.ScaledLatentG(G, tracker).eval()
    z = torch.randn(3, 4)
    s = dls.latent_scale(torch.tensor([1.0, 4.0, 0.25, 1.0]))
    assert torch.allclose(sg(z), G.eval()(z * s)) and torch.equal(sg.s, s)
    plain = dls.ScaledLatentG(G, tracker, dynamic=False)
    assert torch.equal(plain.s, torch.ones(4)) and torch.allclose(plain(z), G(z))
    assert "tracker.v_ema" in sg.state_dict()             # checkpointed with G


def test_encoder_head_shares_the_trunk_and_trains_it():
    D = dls.EncoderHeadD(nets.dcgan_D(32, 1, 4), 5)
    x = torch.randn(3, 1, 32, 32)
    logit, z_hat = D.logit_and_latent(x)
    assert logit.shape == (3, 1) and z_hat.shape == (3, 5)
    assert torch.equal(logit, D(x)) and torch.equal(z_hat, D.encode(x))
    z_hat.pow(2).sum().backward()
    assert D.extractor.weight.grad is not None and D.D.trunk[0].weight.grad is not None
    assert D.D.head.weight.grad is None
    with pytest.raises(TypeError, match="DCGANDiscriminator"):
        dls.EncoderHeadD(nets.course_D(), 5)


def _toy_step(lam_enc=1.0, kind="sma"):
    return em.build(em.recipe("dcgan32_dls", base=4, dls=kind, lam_enc=lam_enc), seed=0, device="cpu")


def test_dls_step_adds_l_enc_to_both_players_and_updates_the_tracker_once_per_step():
    x = torch.randn(64, 1, 32, 32).clamp(-1, 1)
    step = _toy_step()
    out = step(x)
    assert {"loss_D", "loss_G", "L_enc", "L_enc_G", "s_max", "s_min"} <= set(out)
    assert int(step.G.tracker.updates) == 1 and step.z.shape == (64, em.Z_DIM)
    # G's gradient from L_enc alone: the same G batch, the adversarial part removed by λ = 0 on one of two copies
    grads = []
    for lam in (0.0, 1.0):
        s = _toy_step(lam)
        torch.manual_seed(1)
        loss, _ = s.g_objective(s.sample_z(16), None)
        s.opt_G.zero_grad()
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in s.G.parameters()]))
    assert not torch.allclose(grads[0], grads[1])          # L_enc reaches G (cooperative)
    with pytest.raises(TypeError, match="ScaledLatentG"):
        from gantut.dls import DLSStep
        DLSStep(step.G.G, step.D, step.opt_G, step.opt_D)


def test_dls_step_resumes_exactly_with_the_tracker(tmp_path):
    from gantut.data import TensorBatches
    from gantut.train import fit

    x = torch.randn(256, 1, 32, 32).clamp(-1, 1)

    def run(stop_at, ckpt):
        step = _toy_step(kind="sma")
        batches = TensorBatches(x, 64, generator=torch.Generator().manual_seed(0))
        return fit(step, batches, stop_at, state=step.state, checkpoint=ckpt, log_every=1, progress=False), step

    full, s_full = run(6, tmp_path / "full.pt")
    run(3, tmp_path / "part.pt")
    resumed, s_res = run(6, tmp_path / "part.pt")
    assert resumed.start_step == 3 and resumed.state_dict() == full.state_dict()
    assert int(s_res.G.tracker.updates) == 6 and torch.equal(s_res.G.tracker.means, s_full.G.tracker.means)
    assert int(s_res.G.tracker.position) == 6 and not torch.equal(s_full.G.s, torch.ones(em.Z_DIM))
    for a, b in zip(list(s_full.G.parameters()) + list(s_full.D.parameters()),
                    list(s_res.G.parameters()) + list(s_res.D.parameters())):
        assert torch.equal(a, b)


def test_psnr_and_ssim_on_hand_cases():
    black = -torch.ones(2, 1, 32, 32)                      # 0 in [0, 1]
    r = dls.psnr_ssim(black + 0.2, black)                  # 0.1 in [0, 1]: MSE 0.01, PSNR = 10·log10(1/0.01) = 20 dB
    assert r["psnr"] == pytest.approx(20.0, abs=1e-3)
    # constant images a = 0.5 and b = 0.25 in [0, 1]: SSIM = (2ab + C1)/(a² + b² + C1), C1 = (0.01)², the rest 1
    zero, half = torch.zeros(2, 1, 32, 32), -0.5 * torch.ones(2, 1, 32, 32)
    c1 = 1e-4
    assert dls.psnr_ssim(zero, half)["ssim"] == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1), abs=1e-4)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    assert dls.psnr_ssim(x, x)["ssim"] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        dls.psnr_ssim(x, x[:2])


def test_flip_changes_signs_with_probability_p():
    z = torch.randn(1000, 100)
    assert torch.equal(dls.flip(z, 0.0), z) and torch.equal(dls.flip(z, 1.0), -z)
    f = dls.flip(z, 0.1, torch.Generator().manual_seed(0))
    share = float((f != z).float().mean())
    assert 0.095 < share < 0.105 and torch.equal(f.abs(), z.abs())
    assert torch.equal(f, dls.flip(z, 0.1, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="probability"):
        dls.flip(z, 1.5)


def test_reconstruct_restores_modes_and_recipes_check_their_fields():
    step = _toy_step()
    x = torch.randn(5, 1, 32, 32).clamp(-1, 1)
    z_hat, x_hat = dls.reconstruct(step.G, step.D, x)
    assert z_hat.shape == (5, em.Z_DIM) and x_hat.shape == x.shape and step.G.training and step.D.training
    with pytest.raises(ValueError, match="DLS"):
        em.recipe("dcgan32_dls", lfm="adversarial")
    with pytest.raises(ValueError, match="dls must be one of"):
        em.recipe("dcgan32_dls", dls="fifo")
    assert em.recipe("dcgan32_enc").key()["dls"] == "mse" and "dls" not in em.recipe("dcgan32").key()
