"""The plain reference ConvLSTM that benchmarks compare against (the usual public recipe).

Stacked `ConvLSTMCell`s with one fused gate convolution over [x, h] per step (no hoisting),
frames folded by space-to-depth (patch 4), a 1x1 convolution as the head, one network that
reads frame t and predicts frame t+1 at every step (teacher forcing over the context,
its own output over the future), trained with MSE and Adam at 1e-3. Nothing here is tuned;
that is the point of a reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framepred.models.cells import ConvLSTMCell


class ReferenceConvLSTM(nn.Module):
    """Args:
    in_chs: frame channels.
    hidden_chs: hidden channels of each stacked layer.
    kernel_size: gate kernel.
    patch_size: space-to-depth factor.
    """

    def __init__(
        self,
        in_chs: int = 1,
        hidden_chs: tuple[int, ...] = (64, 64, 64),
        kernel_size: int = 5,
        patch_size: int = 4,
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        chs = [in_chs * patch_size**2, *hidden_chs]
        self.cells = nn.ModuleList(
            ConvLSTMCell(chs[i], chs[i + 1], kernel_size, forget_bias=0.0)
            for i in range(len(hidden_chs))
        )
        self.head = nn.Conv2d(hidden_chs[-1], in_chs * patch_size**2, 1)

    def forward(self, context: Tensor, n_future: int) -> Tensor:
        """context (B, K, C, H, W) -> predicted future (B, N, C, H, W). H, W divisible by the patch."""
        p = self.patch_size
        k = context.shape[1]
        states: list = [None] * len(self.cells)
        frame = F.pixel_unshuffle(context[:, 0], p)
        outs = []
        for t in range(k + n_future - 1):
            x = frame
            for i, cell in enumerate(self.cells):
                states[i] = cell(x, states[i])
                x = states[i][0]
            pred = self.head(x)
            if t >= k - 1:
                outs.append(F.pixel_shuffle(pred, p))
            frame = F.pixel_unshuffle(context[:, t + 1], p) if t + 1 < k else pred
        return torch.stack(outs, dim=1)

    @torch.no_grad()
    def rollout(self, context: Tensor, n_future: int) -> Tensor:
        return self.forward(context, n_future).clamp(0, 1)
