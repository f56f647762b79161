"""The encoder-forecaster (Shi et al., 2015) as a recurrent U-shape.

    frame x_t --stem(space-to-depth)--> E_0 (ConvLSTM) --down--> E_1 --down--> ... E_{L-1}
                                          |                        |               |
    frame x_{t+1} <--head-- F_0 (ConvLSTM) <--up-- F_1 <--up-- ... F_{L-1}

The encoder stages E_l read the context frames; the forecaster stages F_l mirror them from
the coarsest resolution back up and *start from the encoder's states*. Each forecaster stage
also reads the encoder's hidden map of the same step (a skip connection), and during the
forecast the encoder keeps reading the frame just produced (or, with scheduled sampling,
the true one). The config is a dataclass saved in every checkpoint, so a checkpoint
rebuilds its model alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framepred.models.cells import ConvLSTM, State


@dataclass
class ModelConfig:
    """Everything needed to rebuild an `EncoderForecaster`."""

    in_chs: int = 1  # frame channels (1 for Moving MNIST, 3 for RGB video)
    patch_size: int = 4  # space-to-depth factor of the stem: the recurrent part runs at H/p x W/p
    stem_chs: int = 32  # channels after the stem convolution
    stage_chs: tuple[int, ...] = (64, 64)  # hidden channels per stage; stage l runs at H/(p*2^l)
    layers_per_stage: int = 1  # ConvLSTM layers inside each stage
    kernel_size: int = 3  # gate-convolution kernel
    cell: str = "convlstm"  # "convlstm" or "convrnn" (the plain cell, for comparison)
    peephole: bool = False  # Shi et al.'s peephole connections
    norm_groups: int = 0  # GroupNorm groups on the gates, 0 = off
    head: str = "pixels"  # output head; "pixels" generates frames directly
    extra: dict = field(default_factory=dict)  # forward-compatible room for later options

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stage_chs"] = list(self.stage_chs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        d = dict(d)
        if "stage_chs" in d:
            d["stage_chs"] = tuple(int(c) for c in d["stage_chs"])
        return cls(**d)

    @property
    def stride(self) -> int:
        """Frames are padded to a multiple of this and cropped back."""
        return self.patch_size * 2 ** (len(self.stage_chs) - 1)


class EncoderForecaster(nn.Module):
    """ConvLSTM encoder-forecaster with a pixel head. Frames are (B, T, C, H, W) in [0, 1].

    Args:
        config: a `ModelConfig`.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or ModelConfig()
        if cfg.head != "pixels":
            raise ValueError(f"unknown head {cfg.head!r}")
        p, chs, n = cfg.patch_size, cfg.stage_chs, len(cfg.stage_chs)
        rnn = partial(
            ConvLSTM,
            kernel_size=cfg.kernel_size,
            cell=cfg.cell,
            peephole=cfg.peephole,
            norm_groups=cfg.norm_groups,
        )
        self.stem = nn.Sequential(
            nn.PixelUnshuffle(p),
            nn.Conv2d(cfg.in_chs * p * p, cfg.stem_chs, 3, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.down = nn.ModuleList(
            [nn.Identity()]
            + [
                nn.Sequential(
                    nn.Conv2d(chs[i - 1], chs[i - 1], 3, stride=2, padding=1), nn.LeakyReLU(0.2)
                )
                for i in range(1, n)
            ]
        )
        enc_in = [cfg.stem_chs, *chs[:-1]]
        self.encoder = nn.ModuleList(
            rnn(enc_in[i], [chs[i]] * cfg.layers_per_stage) for i in range(n)
        )
        # Forecaster stage l reads the encoder's map at level l plus (below the top) the
        # upsampled output of stage l+1.
        fc_in = [chs[i] + (chs[i + 1] if i < n - 1 else 0) for i in range(n)]
        self.forecaster = nn.ModuleList(
            rnn(fc_in[i], [chs[i]] * cfg.layers_per_stage) for i in range(n)
        )
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Sequential(nn.Conv2d(chs[0], cfg.in_chs * p * p, 1), nn.PixelShuffle(p))

    # -- helpers -----------------------------------------------------------------------------
    def _pad(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Pad (B, T, C, H, W) on the bottom/right to a multiple of the network stride."""
        s = self.config.stride
        h, w = x.shape[-2:]
        ph, pw = (-h) % s, (-w) % s
        if ph or pw:
            b, t = x.shape[:2]
            x = F.pad(x.flatten(0, 1), (0, pw, 0, ph), mode="replicate").unflatten(0, (b, t))
        return x, (h, w)

    def _encode_step(self, frame: Tensor, enc_states: list[list[State]]) -> list[Tensor]:
        """Run every encoder stage on one frame (B, C, H, W); returns each stage's hidden map."""
        feats, e = [], self.stem(frame)
        for lvl, (down, stage) in enumerate(zip(self.down, self.encoder, strict=True)):
            out, enc_states[lvl] = stage(down(e).unsqueeze(1), enc_states[lvl])
            e = out[:, 0]
            feats.append(e)
        return feats

    def _forecast_step(self, feats: list[Tensor], fc_states: list[list[State]]) -> Tensor:
        """Run the forecaster top-down on one step's encoder maps; returns frame logits."""
        u: Tensor | None = None
        for lvl in reversed(range(len(self.forecaster))):
            inp = feats[lvl] if u is None else torch.cat([feats[lvl], self.up(u)], dim=1)
            out, fc_states[lvl] = self.forecaster[lvl](inp.unsqueeze(1), fc_states[lvl])
            u = out[:, 0]
        assert u is not None
        return self.head(u)

    # -- public API --------------------------------------------------------------------------
    def forward(
        self,
        context: Tensor,
        n_future: int,
        target: Tensor | None = None,
        teacher_prob: float = 0.0,
    ) -> Tensor:
        """Predict `n_future` frames after `context`; returns logits (B, N, C, H, W).

        Args:
            context: (B, K, C, H, W) frames in [0, 1], K >= 1.
            n_future: frames to predict.
            target: the true future (B, N, C, H, W), only needed for scheduled sampling.
            teacher_prob: chance, per sample and step, of feeding the true previous frame to
                the encoder instead of the model's own prediction (scheduled sampling).
        """
        if context.dim() != 5:
            raise ValueError(f"context must be (B, T, C, H, W), got {tuple(context.shape)}")
        k = context.shape[1]
        context, (h, w) = self._pad(context)
        if target is not None and teacher_prob > 0:
            target, _ = self._pad(target)
        b = context.shape[0]

        # Encoder over the first K-1 context frames, stage by stage: each stage's input
        # convolution runs once for all steps (see ConvLSTM.forward).
        enc_states: list[list[State]] = [None] * len(self.encoder)  # type: ignore[list-item]
        if k > 1:
            e = self.stem(context[:, :-1].flatten(0, 1)).unflatten(0, (b, k - 1))
            for lvl, (down, stage) in enumerate(zip(self.down, self.encoder, strict=True)):
                e = down(e.flatten(0, 1)).unflatten(0, (b, k - 1))
                e, enc_states[lvl] = stage(e, enc_states[lvl])

        frame = context[:, -1]
        logits = []
        fc_states: list[list[State]] | None = None
        for j in range(n_future):
            feats = self._encode_step(frame, enc_states)
            if fc_states is None:  # the forecaster starts from the encoder's states
                fc_states = [list(s) for s in enc_states]
            logit = self._forecast_step(feats, fc_states)
            logits.append(logit)
            if j + 1 < n_future:
                frame = torch.sigmoid(logit)
                if target is not None and teacher_prob > 0:
                    use_true = torch.rand(b, 1, 1, 1, device=frame.device) < teacher_prob
                    frame = torch.where(use_true, target[:, j], frame)
        out = torch.stack(logits, dim=1)
        return out[..., :h, :w]

    @torch.no_grad()
    def rollout(self, context: Tensor, n_future: int) -> Tensor:
        """Predict `n_future` frames in [0, 1] after `context` (B, K, C, H, W)."""
        return torch.sigmoid(self.forward(context, n_future))
