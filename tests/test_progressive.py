"""Chapter 10's math and machinery on hand values: the growing G's shapes at every stage, ↓ₛ, the L1 stage loss,
ProGAN's fade-in, the stage step's pairing and exact resume, D's pretraining loss, and stage-wise resume of the
whole pretraining."""
import pytest
import torch
from torch import nn

from gantut import data, experiments_mnist as em
from gantut.progressive import DPretrainStep, GrowingG, L1StageStep, downsample, fade_in, l1_stage_loss
from gantut.train import fit


@pytest.mark.parametrize("size, sizes", [(32, [4, 8, 16, 32]), (64, [4, 8, 16, 32, 64]), (8, [4, 8])])
def test_growing_G_has_one_output_size_per_stage(size, sizes):
    G = GrowingG(z_dim=10, img_size=size, channels=3, base=16)
    assert G.sizes == sizes and G.n_stages == len(sizes)
    n_params = []
    for k, s in enumerate(sizes):
        G.stage = k
        assert G(torch.randn(2, 10)).shape == (2, 3, s, s)
        n_params.append(sum(p.numel() for p in G.stage_parameters()))
    assert n_params == sorted(n_params) and len(set(n_params)) == len(n_params)  # each stage adds a block and a head
    with pytest.raises(ValueError, match="doubling"):
        GrowingG(img_size=28)


def test_downsample_averages_blocks():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # 2×2 blocks of [[0, 1, 2, 3], [4, 5, 6, 7], ...]: (0 + 1 + 4 + 5)/4 = 2.5, 4.5, 10.5, 12.5
    assert torch.equal(downsample(x, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert downsample(x, 1).item() == 7.5 and torch.equal(downsample(x, 4), x)
    with pytest.raises(ValueError, match="must divide"):
        downsample(x, 3)


def test_l1_stage_loss_compares_with_the_averaged_image():
    real = torch.ones(1, 1, 4, 4)
    real[..., :2, :2] = 3.0                        # ↓₂ = [[3, 1], [1, 1]]
    fake = torch.zeros(1, 1, 2, 2)
    assert l1_stage_loss(fake, real).item() == pytest.approx(1.5)   # mean |0 − [3, 1, 1, 1]|
    assert l1_stage_loss(downsample(real, 2), real).item() == 0.0


def test_fade_in_is_a_lerp_of_the_upscaled_old_head():
    prev = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    new = torch.full((1, 1, 4, 4), 10.0)
    up = torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert torch.equal(fade_in(prev, new, 0.0)[0, 0], up)
    assert torch.equal(fade_in(prev, new, 1.0), new)
    assert torch.allclose(fade_in(prev, new, 0.25)[0, 0], 0.75 * up + 2.5)


def test_growing_G_faded_at_zero_is_the_previous_stage_upscaled():
    torch.manual_seed(0)
    G = GrowingG(z_dim=8, img_size=16, channels=1, base=8).eval()
    z = torch.randn(3, 8)
    G.stage = 1
    old = G(z)
    G.stage, G.fade_alpha = 2, 0.0
    assert torch.allclose(G(z), nn.functional.interpolate(old, scale_factor=2, mode="nearest"))
    G.fade_alpha = 1.0
    assert not torch.allclose(G(z), nn.functional.interpolate(old, scale_factor=2, mode="nearest"))


def _stage_step(stage, z_table=None, fade_steps=0):
    torch.manual_seed(0)
    G = GrowingG(z_dim=4, img_size=8, channels=1, base=4)
    opt = torch.optim.Adam(list(G.stage_parameters(stage)), 1e-3)
    return L1StageStep(G, opt, stage, z_table, fade_steps)


def test_fixed_pairing_gives_an_image_the_same_latent_every_time():
    z_table = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    step = _stage_step(0, z_table)
    seen = []
    step.G.forward = lambda z, _f=step.G.forward: (seen.append(z.clone()), _f(z))[1]
    x, idx = torch.zeros(2, 1, 8, 8), torch.tensor([4, 1])
    step((x, idx)); step((x, idx))
    assert torch.equal(seen[0], z_table[[4, 1]]) and torch.equal(seen[1], seen[0])


def test_stage_step_fades_in_and_resumes_exactly(tmp_path):
    images = torch.rand(32, 1, 8, 8) * 2 - 1
    z_table = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))

    def run(stop_at, ckpt):
        step = _stage_step(1, z_table, fade_steps=4)
        batches = data.TensorBatches(images, 8, labels=torch.arange(32), generator=torch.Generator().manual_seed(0))
        return fit(step, batches, stop_at, state=step.state, checkpoint=ckpt, log_every=1, progress=False), step

    full, s_full = run(6, tmp_path / "full.pt")
    assert full["fade"] == pytest.approx([0, 0.25, 0.5, 0.75, 1, 1])   # a = updates done / fade_steps, capped at 1
    run(3, tmp_path / "part.pt")
    resumed, s_res = run(6, tmp_path / "part.pt")
    assert resumed.start_step == 3 and resumed.state_dict() == full.state_dict()
    for a, b in zip(s_full.G.parameters(), s_res.G.parameters()):
        assert torch.equal(a, b)


def test_stage_step_trains_only_its_stage():
    step = _stage_step(0)
    later = [p.detach().clone() for p in step.G.blocks[1].parameters()]
    step((torch.rand(4, 1, 8, 8), torch.arange(4)))
    assert all(torch.equal(a, b) for a, b in zip(later, step.G.blocks[1].parameters()))


def test_d_pretraining_loss_on_hand_values():
    class Mean(nn.Module):  # D(x) = mean pixel: reals at 1 score 1, fakes at 0.5 score 0.5
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.w * x.flatten(1).mean(1)

    step = DPretrainStep(Mean(), torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0))
    out = step((torch.ones(3, 1, 2, 2), torch.full((5, 1, 2, 2), 0.5)))
    assert out["loss_D_pre"].item() == pytest.approx(0.5 * 0.0 + 0.5 * 0.25)   # ½(1 − 1)² + ½(0.5 − 0)²
    assert out["acc_D_pre"].item() == pytest.approx(0.5)   # reals above ½, fakes not below it


def test_pretraining_resumes_stage_by_stage(tmp_path, monkeypatch):
    """A pretraining whose later stages are lost retrains them from the stored earlier ones, to the same weights."""
    r = em.recipe("lsgan_grow32_pre", batch_size=16)
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "a"))
    a = em.pretrain(r, seed=0, dataset="mnist", steps=3, device="cpu", progress=False)
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "b"))
    em.pretrain(r, seed=0, dataset="mnist", steps=3, device="cpu", progress=False)
    folder = tmp_path / "b" / "checkpoints" / "pretrain" / "mnist"
    for f in folder.iterdir():
        if not f.name.startswith(("G-stage0", "G-stage1")):
            f.unlink()
    b = em.pretrain(r, seed=0, dataset="mnist", steps=3, device="cpu", progress=False)
    assert [h.loaded for h in b.stages] == [True, True, False, False] and not b.D_history.loaded
    for x, y in zip(list(a.G.state_dict().values()) + list(a.D.state_dict().values()),
                    list(b.G.state_dict().values()) + list(b.D.state_dict().values())):
        assert torch.equal(x, y)
    assert a.updates == 3 * 5 and all(s.shape[-1] == size for s, size in zip(a.samples, (4, 8, 16, 32)))


def test_pretraining_needs_the_growing_G():
    with pytest.raises(ValueError, match="nets='growing'"):
        em.recipe("lsgan32", pretrain_steps=10)
    assert "pretrain_steps" not in em.RECIPES["lsgan_grow32_pre"].key()   # a budget, like steps
