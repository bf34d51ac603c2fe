"""The shared architectures of the gantut chapters.

Conventions (docs/ARCHITECTURE.md):

- Discriminators and critics return **raw scores** (logits for the minimax/non-saturating and
  least-squares losses, scores for WGAN and hinge), shape ``N×out_dim`` (``N×1`` by default).
  No sigmoid: the losses in :mod:`gantut.losses` take logits.
- Image generators end in ``tanh`` and return ``N×C×H×W`` in [-1, 1]; 2D generators end linear
  (or with the ``out_act`` you pass) and return ``N×2``.
- Every discriminator has ``features(x)``, the last hidden vector (``N×feature_dim``), on which
  later chapters put their heads (LFM feature head, DLS encoder head, MD-GAN embedding).

Contents: :class:`MLP`, :class:`MLPGenerator`, :class:`MLPDiscriminator`, the course MLP
(:func:`course_G`, :func:`course_D`), the 2D nets (:func:`mlp2d_G`, :func:`mlp2d_D`), DCGAN
(:func:`dcgan_G`, :func:`dcgan_D`, :func:`init_dcgan_weights`), :class:`SelfAttention` (SAGAN),
:func:`spectral_norm` and :func:`count_params`.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = [
    "device_of",
    "ACTIVATIONS",
    "make_activation",
    "MLP",
    "MLPGenerator",
    "MLPDiscriminator",
    "course_G",
    "course_D",
    "mlp2d_G",
    "mlp2d_D",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "SecondHeadD",
    "dcgan_G",
    "dcgan_D",
    "init_dcgan_weights",
    "SelfAttention",
    "spectral_norm",
    "count_params",
]

ACTIVATIONS = ("leaky_relu", "relu", "tanh", "sigmoid")


def make_activation(name: str | None, slope: float = 0.2) -> nn.Module:
    """An activation module by name: ``"leaky_relu"`` (negative slope ``slope``), ``"relu"``,
    ``"tanh"``, ``"sigmoid"``, or ``None`` / ``"linear"`` for the identity."""
    if name is None or name == "linear":
        return nn.Identity()
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(
        f"unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)}, or None for a linear output."
    )


# --------------------------------------------------------------------------------------------
# MLPs
# --------------------------------------------------------------------------------------------


class MLP(nn.Module):
    """A plain multilayer perceptron: ``sizes = [in, h1, ..., out]``.

    Each hidden layer is ``Linear → [BatchNorm1d] → act → [Dropout]``; the last layer is
    ``Linear → out_act`` (linear when ``out_act`` is None). BatchNorm1d keeps PyTorch's default
    ``eps = 1e-5`` (the widely copied ``BatchNorm1d(C, 0.8)`` silently sets eps = 0.8).

    ``self.hidden`` is the trunk (input to last hidden vector), ``self.head`` the last Linear,
    so ``forward(x) = out_act(head(hidden(x)))``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        act: str = "leaky_relu",
        slope: float = 0.2,
        out_act: str | None = None,
        batchnorm: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(
                f"MLP needs at least [in, out] sizes, got {sizes}; e.g. MLP([2, 128, 128, 1])."
            )
        make_activation(act, slope)  # fail early on an unknown name, even without hidden layers
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout}.")
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
            layers.append(nn.Linear(n_in, n_out))
            if batchnorm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(make_activation(act, slope))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.sizes = sizes
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-2], sizes[-1])
        self.out_act = make_activation(out_act, slope)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden vector, ``N×sizes[-2]`` (the input itself when there is no hidden layer)."""
        return self.hidden(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_act(self.head(self.hidden(x)))


class MLPGenerator(MLP):
    """An MLP generator ``z ↦ G(z)``; with ``out_shape`` the output is reshaped to ``N×out_shape``
    (``(1, 28, 28)`` for MNIST). Image generators use ``out_act="tanh"``."""

    def __init__(self, sizes: Sequence[int], out_shape: Sequence[int] | None = None, **kw):
        super().__init__(sizes, **kw)
        self.z_dim = self.sizes[0]
        self.out_shape = tuple(out_shape) if out_shape is not None else None
        if self.out_shape is not None and math.prod(self.out_shape) != self.sizes[-1]:
            raise ValueError(
                f"out_shape {self.out_shape} has {math.prod(self.out_shape)} values but the last "
                f"layer has {self.sizes[-1]} units; make them match."
            )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = super().forward(z.flatten(1))
        if self.out_shape is not None:
            x = x.view(x.shape[0], *self.out_shape)
        return x


class MLPDiscriminator(MLP):
    """An MLP discriminator: flattens ``N×...`` inputs to ``N×sizes[0]`` and returns raw scores
    ``N×sizes[-1]`` (no sigmoid). ``features(x)`` is the last hidden vector."""

    def __init__(self, sizes: Sequence[int], **kw):
        kw.setdefault("out_act", None)
        super().__init__(sizes, **kw)
        self.out_dim = self.sizes[-1]
        self.feature_dim = self.sizes[-2]

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"the discriminator expects {self.sizes[0]} input values per sample, got "
                f"{x.shape[1]} (input shape {tuple(x.shape)}); check the image size / data."
            )
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self._flat(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_act(self.head(self.hidden(self._flat(x))))


def course_G(z_dim: int = 100, batchnorm: bool = False) -> MLPGenerator:
    """The course ("platform") MNIST generator: z_dim→256→512→1024→784, LeakyReLU 0.2, tanh,
    reshaped to ``N×1×28×28``. ``batchnorm=True`` adds BatchNorm1d (default eps 1e-5) after each
    hidden Linear (the layer sizes of lyeoni/pytorch-mnist-GAN; docs/references.md, chapter 02)."""
    return MLPGenerator(
        [z_dim, 256, 512, 1024, 784],
        out_shape=(1, 28, 28),
        act="leaky_relu",
        slope=0.2,
        out_act="tanh",
        batchnorm=batchnorm,
    )


def course_D(dropout: float = 0.0, out_dim: int = 1) -> MLPDiscriminator:
    """The course MNIST discriminator: 784→1024→512→256→out_dim, LeakyReLU 0.2, raw logits.

    Accepts ``N×1×28×28`` (or ``N×784``). ``dropout=0.3`` after each hidden layer reproduces the
    widely copied template (lyeoni/pytorch-mnist-GAN); off by default. ``out_dim=9`` gives the
    MD-GAN embedding (ch. 04)."""
    return MLPDiscriminator(
        [784, 1024, 512, 256, out_dim], act="leaky_relu", slope=0.2, dropout=dropout
    )


def _hidden_sizes(hidden: int, depth: int) -> list[int]:
    if depth < 1:
        raise ValueError(f"depth is the number of hidden layers and must be ≥ 1, got {depth}.")
    return [int(hidden)] * int(depth)


def mlp2d_G(
    z_dim: int = 2,
    hidden: int = 128,
    depth: int = 2,
    act: str = "relu",
    out_dim: int = 2,
    out_act: str | None = None,
    batchnorm: bool = False,
) -> MLPGenerator:
    """Generator for the 2D mixtures: z_dim → ``depth`` × hidden (``act``) → out_dim, linear
    output (pass ``out_act="tanh"`` and scale outside for MD-GAN's 6·tanh). The seed found one
    hidden layer fewer than the course MLP necessary, hence the configurable ``depth``."""
    return MLPGenerator(
        [z_dim, *_hidden_sizes(hidden, depth), out_dim],
        act=act,
        out_act=out_act,
        batchnorm=batchnorm,
    )


def mlp2d_D(
    hidden: int = 128,
    depth: int = 2,
    act: str = "leaky_relu",
    out_dim: int = 1,
    in_dim: int = 2,
    slope: float = 0.2,
) -> MLPDiscriminator:
    """Discriminator for the 2D mixtures: in_dim → ``depth`` × hidden (``act``) → out_dim raw
    scores (``out_dim=9`` for MD-GAN's embedding)."""
    return MLPDiscriminator(
        [in_dim, *_hidden_sizes(hidden, depth), out_dim], act=act, slope=slope
    )


# --------------------------------------------------------------------------------------------
# DCGAN
# --------------------------------------------------------------------------------------------

# image size -> (size of the first feature map, number of stride-2 up/down-samplings)
_DCGAN_PLAN = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _dcgan_plan(img_size: int) -> tuple[int, int]:
    if img_size not in _DCGAN_PLAN:
        raise ValueError(
            f"DCGAN nets are defined for img_size in {sorted(_DCGAN_PLAN)}, got {img_size}; "
            "resize the data (e.g. torchvision.transforms.Resize) to one of them."
        )
    return _DCGAN_PLAN[img_size]


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016, arXiv:1511.06434): z → ConvT to an s₀×s₀ map with
    ``base·2^(n−1)`` channels, then n stride-2 ConvT(4, 2, 1) layers halving the channels, BatchNorm + ReLU
    between, ``tanh`` at the end. s₀ = 4 for 32/64 px (n = 3/4), 7 for 28 px (n = 2).

    Switches (SAGAN, Zhang et al. 2019, arXiv:1805.08318, puts SN and attention in both nets):
    ``batchnorm=False`` drops the BatchNorms; ``spectral_norm=True`` wraps every ConvT in spectral
    normalisation; ``attention_at=r`` inserts a :class:`SelfAttention` block after the layer whose output is
    r×r (r < img_size; the nets' ``attention`` attribute is that block, else None).
    """

    def __init__(self, z_dim: int = 100, img_size: int = 64, channels: int = 3, base: int = 64,
                 batchnorm: bool = True, spectral_norm: bool = False, attention_at: int | None = None):
        super().__init__()
        s0, n = _dcgan_plan(img_size)
        self.z_dim, self.img_size, self.channels = z_dim, img_size, channels
        sizes = [s0 * 2 ** i for i in range(n)]  # output size of each hidden layer
        _check_attention_at(attention_at, sizes, "generator")
        sn = _sn if spectral_norm else (lambda m: m)
        bn = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
        ch = base * 2 ** (n - 1)
        self.attention: SelfAttention | None = None
        layers: list[nn.Module] = [sn(nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=not batchnorm)), bn(ch),
                                   nn.ReLU(True)]
        for i in range(n):
            if sizes[i] == attention_at:
                self.attention = SelfAttention(ch, spectral_norm=spectral_norm)
                layers.append(self.attention)
            if i == n - 1:
                break
            layers += [sn(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not batchnorm)), bn(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [sn(nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], self.z_dim, 1, 1))


def _check_attention_at(attention_at: int | None, sizes: Sequence[int], which: str) -> None:
    if attention_at is not None and attention_at not in sizes:
        raise ValueError(f"attention_at={attention_at}: the {which}'s hidden feature maps are "
                         f"{sorted(set(sizes))} px; put the attention block at one of them (or None).")


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: n stride-2 Conv(4, 2, 1) layers doubling the channels from ``base``
    (LeakyReLU 0.2; BatchNorm from the second layer when ``batchnorm``), down to an s₀×s₀ map,
    then a Conv(s₀) to ``out_dim`` raw scores, returned as ``N×out_dim``.

    ``batchnorm=False`` is the WGAN-GP critic (the penalty is per sample: Gulrajani et al. 2017,
    arXiv:1704.00028);
    ``spectral_norm=True`` wraps every conv in spectral normalisation (SAGAN, ch. 08);
    ``attention_at=r`` inserts a :class:`SelfAttention` block after the conv whose output is r×r.
    ``features(x)`` is the flattened last hidden map, ``N×feature_dim``.
    """

    def __init__(
        self,
        img_size: int = 64,
        channels: int = 3,
        base: int = 64,
        spectral_norm: bool = False,
        batchnorm: bool = True,
        out_dim: int = 1,
        attention_at: int | None = None,
    ):
        super().__init__()
        s0, n = _dcgan_plan(img_size)
        self.img_size, self.channels, self.out_dim = img_size, channels, out_dim
        sizes = [img_size // 2 ** (i + 1) for i in range(n)]  # output size of each conv
        _check_attention_at(attention_at, sizes, "discriminator")
        sn = _sn if spectral_norm else (lambda m: m)
        self.attention: SelfAttention | None = None
        layers: list[nn.Module] = []
        ch_in, ch = channels, base
        for i in range(n):
            layers.append(sn(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=not (batchnorm and i > 0))))
            if batchnorm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, True))
            if sizes[i] == attention_at:
                self.attention = SelfAttention(ch, spectral_norm=spectral_norm)
                layers.append(self.attention)
            ch_in, ch = ch, ch * 2
        self.trunk = nn.Sequential(*layers)
        self.feature_dim = ch_in * s0 * s0
        self.head = sn(nn.Conv2d(ch_in, out_dim, s0, 1, 0))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1:] != (self.channels, self.img_size, self.img_size):
            raise ValueError(
                f"this discriminator expects N×{self.channels}×{self.img_size}×{self.img_size} "
                f"images, got shape {tuple(x.shape)}; build it with matching img_size/channels."
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden feature map, flattened: ``N×feature_dim``."""
        self._check(x)
        return self.trunk(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.head(self.trunk(x)).flatten(1)


class SecondHeadD(nn.Module):
    """A DCGAN discriminator with a second head on its trunk: ``forward(x)`` is still the real/fake output (every
    loss and metric of the collection works unchanged) and :meth:`both` returns it with ``second(conv(trunk(x)))``,
    a conv over the whole last s₀×s₀ map (a dense layer on the flattened map) to ``dim`` outputs, from one pass
    of the trunk. Subclasses name the head: LFM's feature head (:class:`gantut.lfm.FeatureHeadD`, tanh) and DLS's
    encoder (:class:`gantut.dls.EncoderHeadD`, linear). ``trainable=False`` freezes the head at its initialisation."""

    def __init__(self, D: DCGANDiscriminator, dim: int, trainable: bool = True) -> None:
        super().__init__()
        if not isinstance(D, DCGANDiscriminator):
            raise TypeError(f"{type(self).__name__} wraps a gantut.nets.DCGANDiscriminator (it needs its trunk), "
                            f"got {type(D).__name__}.")
        self.D = D
        ch, s0 = D.head.in_channels, D.head.kernel_size[0]
        self.extractor = nn.Conv2d(ch, int(dim), s0, 1, 0)
        self.trainable = bool(trainable)
        self.extractor.requires_grad_(self.trainable)

    def second(self, y: torch.Tensor) -> torch.Tensor:
        """The second head's output layer (identity here)."""
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(x)

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on one pass of the trunk: (N×out_dim real/fake outputs, N×dim second head)."""
        self.D._check(x)
        h = self.D.trunk(x)
        return self.D.head(h).flatten(1), self.second(self.extractor(h).flatten(1))


def dcgan_G(z_dim: int = 100, img_size: int = 64, channels: int = 3, base: int = 64, batchnorm: bool = True,
            spectral_norm: bool = False, attention_at: int | None = None) -> DCGANGenerator:
    """A DCGAN generator for 28, 32 or 64 px images (see :class:`DCGANGenerator`)."""
    return DCGANGenerator(z_dim, img_size, channels, base, batchnorm, spectral_norm, attention_at)


def dcgan_D(
    img_size: int = 64,
    channels: int = 3,
    base: int = 64,
    spectral_norm: bool = False,
    batchnorm: bool = True,
    out_dim: int = 1,
    attention_at: int | None = None,
) -> DCGANDiscriminator:
    """A DCGAN discriminator for 28, 32 or 64 px images (see :class:`DCGANDiscriminator`)."""
    return DCGANDiscriminator(img_size, channels, base, spectral_norm, batchnorm, out_dim, attention_at)


def init_dcgan_weights(module: nn.Module) -> nn.Module:
    """DCGAN initialisation, in place: conv / linear weights ~ N(0, 0.02), BatchNorm weights
    ~ N(1, 0.02), biases 0. Spectrally normalised layers get their underlying weight initialised.
    Returns ``module`` so it chains: ``G = init_dcgan_weights(dcgan_G(...))``."""

    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if parametrize.is_parametrized(m, "weight"):
                weight = m.parametrizations.weight.original
            else:
                weight = m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    with torch.no_grad():
        module.apply(_init)
    return module


# --------------------------------------------------------------------------------------------
# SAGAN blocks
# --------------------------------------------------------------------------------------------


def spectral_norm(module: nn.Module, name: str = "weight", n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018): divide ``module.weight`` by an estimate of its
    largest singular value (one power iteration per forward pass in training).

    A thin wrapper of ``torch.nn.utils.parametrizations.spectral_norm``; returns the module."""
    return nn.utils.parametrizations.spectral_norm(
        module, name=name, n_power_iterations=n_power_iterations
    )


def _sn(module: nn.Module) -> nn.Module:
    return spectral_norm(module)


class SelfAttention(nn.Module):
    """SAGAN self-attention block (Zhang et al. 2019), as in heykeetae/Self-Attention-GAN:

    q = W_q x, k = W_k x (1×1 convs to C/8 channels), v = W_v x (C channels);
    β = softmax over positions j of qᵢᵀkⱼ; oᵢ = Σⱼ βᵢⱼ vⱼ; **y = x + γ·o** with γ initialised to 0,
    so the block is the identity at initialisation. ``spectral_norm=True`` wraps the convs.
    After a forward pass, ``self.last_attention`` holds β (``N × HW × HW``) for plotting.
    """

    def __init__(self, C: int, spectral_norm: bool = False):
        super().__init__()
        sn = _sn if spectral_norm else (lambda m: m)
        c_qk = max(C // 8, 1)
        self.query = sn(nn.Conv2d(C, c_qk, 1))
        self.key = sn(nn.Conv2d(C, c_qk, 1))
        self.value = sn(nn.Conv2d(C, C, 1))
        self.gamma = nn.Parameter(torch.zeros(1))
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        q = self.query(x).flatten(2)  # N × C/8 × HW
        k = self.key(x).flatten(2)  # N × C/8 × HW
        v = self.value(x).flatten(2)  # N × C × HW
        beta = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # N × HW(i) × HW(j)
        o = (v @ beta.transpose(1, 2)).view(N, C, H, W)  # o_i = Σ_j β_ij v_j
        self.last_attention = beta.detach()
        return x + self.gamma * o


def device_of(module: nn.Module) -> torch.device:
    """Where ``module`` lives: the device of its first parameter, else of its first buffer, else the CPU."""
    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return torch.device("cpu")


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
