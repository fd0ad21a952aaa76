"""Training-free token merging (ToMe) for a loaded VideoMAE classifier, for the fast path.

ToMe (Bolya et al., "Token Merging: Your ViT But Faster", ICLR 2023; reference code facebookresearch/ToMe)
shrinks the token set inside each transformer block instead of pruning it: between a block's attention and its
MLP, the tokens are split alternately into two sets A and B, each A token is linked to its most similar B token
(cosine similarity of the attention keys, averaged over heads), and the `r` most similar links are merged
(bipartite soft matching). A merged token is the size-weighted mean of what it absorbed and remembers its size
`s` (how many patches it stands for); attention then adds log(s) to its logits (proportional attention), so a
token of size s weighs as much as the s tokens it replaced. VideoMAE-B's 1568 tubelet tokens are highly redundant
across frames, which is why video MAE models lose little under merging (ToMe reports 2.2x for 0.2-0.3 % accuracy).

`TokenMergedVideoMAE` wraps a transformers `VideoMAEForVideoClassification` instance without forking it: it
runs the instance's own modules (embeddings, each layer's norms, query/key/value projections, attention
output, MLP, head) and adds only the matching and merging between them, with transformers' attention function
(SDPA or eager, as configured) given log(size) as its additive mask. The merge schedule is fixed per layer, so
every shape is static given the token count: the module traces once and converts with `openvino.convert_model`
and quantises with NNCF like the plain model (`modeling.fast_path`). With `r = 0` everywhere it computes
exactly what the wrapped model computes. The head pools like VideoMAE does: with mean pooling the mean is
weighted by size (the mean over the original patches), otherwise token 0 is protected from merging and kept
first, as ToMe protects a class token.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepfake_detection.modeling.merge_schedule import MergeSchedule, token_counts


def bipartite_soft_matching(metric: torch.Tensor, r: int, protect_first: bool = False):
    """ToMe's matching of `metric` (B, t, c) (the keys, averaged over heads): a `merge(x)` for tensors
    (B, t, d) that sums each of the `r` most similar A tokens (even positions) into its B partner (odd
    positions); (B, t - r, d) out, A's unmerged tokens first (in their order when `protect_first`, which keeps
    token 0 unmerged and first), then B's."""
    t = metric.shape[1]
    t_a = (t + 1) // 2
    metric = metric / metric.norm(dim=-1, keepdim=True)
    a, b = metric[:, ::2], metric[:, 1::2]
    # cosine similarity - 1: the best matches sit near 0, where a bf16 output still resolves them (near 1 its
    # step is 0.004, and ties would pile many A tokens onto one B token); the argmax is the same in fp32
    node_max, node_idx = (a @ b.transpose(-1, -2) - 1.0).max(dim=-1)  # (B, t_a): best B partner of each A token
    if protect_first:
        node_max = node_max.masked_fill(torch.arange(t_a) == 0, -math.inf)
    edge_idx = node_max.argsort(dim=-1, descending=True)[..., None]  # (B, t_a, 1), most similar first
    unm_idx, src_idx = edge_idx[:, r:], edge_idx[:, :r]
    if protect_first:
        unm_idx = unm_idx.sort(dim=1).values
    dst_idx = node_idx[..., None].gather(dim=1, index=src_idx)

    def merge(x: torch.Tensor) -> torch.Tensor:
        src, dst = x[:, ::2], x[:, 1::2]
        d = x.shape[-1]
        unm = src.gather(dim=1, index=unm_idx.expand(-1, -1, d))
        moved = src.gather(dim=1, index=src_idx.expand(-1, -1, d))
        return torch.cat([unm, dst.scatter_add(1, dst_idx.expand(-1, -1, d), moved)], dim=1)

    return merge


def merge_weighted(merge, x: torch.Tensor, size: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge tokens `x` (B, t, d) as size-weighted means; their sizes (B, t, 1) (None: all 1) are summed."""
    if size is None:
        size = torch.ones_like(x[..., :1])
    merged = merge(torch.cat([x * size, size], dim=-1))
    size = merged[..., -1:]
    return merged[..., :-1] / size, size


class TokenMerge(nn.Module):
    """One layer's merge as a module of its own, so a traced graph names its nodes (`...merges.3...`): the
    int8 quantiser leaves the matching's similarity product in full precision (`MATCHING_SCOPE`), since a
    quantised similarity flips near-tied matches."""

    def __init__(self, r: int, protect_first: bool) -> None:
        super().__init__()
        self.r, self.protect_first = r, protect_first

    def forward(self, x: torch.Tensor, size: torch.Tensor | None, metric: torch.Tensor):
        return merge_weighted(bipartite_soft_matching(metric, self.r, self.protect_first), x, size)


# NNCF IgnoredScope pattern for the matching (node names of a traced `TokenMergedVideoMAE`)
MATCHING_SCOPE = r".*merges\.\d+.*"


class TokenMergedVideoMAE(nn.Module):
    """A `VideoMAEForVideoClassification` run with ToMe: pixel_values (B, T, 3, H, W) float32 -> logits (B, 2).

    `r[i]` tokens are merged away in layer i, between its attention and its MLP (len(r) = the model's layers).
    The wrapped model's weights are shared, not copied; the model itself is unchanged and still runs unmerged.
    `proportional_attention` adds log(size) to the attention logits (ToMe's default). Raises ValueError for a
    schedule of the wrong length.
    """

    def __init__(self, model, r: list[int], proportional_attention: bool = True) -> None:
        super().__init__()
        self.model = model
        config = model.config
        self.mean_pooling = bool(config.use_mean_pooling)
        layers = len(model.videomae.encoder.layer)
        if len(r) != layers:
            raise ValueError(f"a merge schedule for {len(r)} layers; the model has {layers}")
        self.num_tokens = int(model.videomae.embeddings.num_patches)
        protected = 0 if self.mean_pooling else 1
        # clamped the way `MergeSchedule.per_layer` clamps, so a hand-made list cannot merge more than half
        self.r = MergeSchedule(r=list(r)).per_layer(self.num_tokens, layers, protected)
        self.proportional_attention = proportional_attention
        self.merges = nn.ModuleList([TokenMerge(v, protect_first=not self.mean_pooling) for v in self.r])

    @property
    def tokens(self) -> list[int]:
        """Tokens entering each layer, then the count the head pools."""
        return token_counts(self.num_tokens, self.r)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        videomae = self.model.videomae
        x = videomae.embeddings(pixel_values, None)
        size = None
        for layer, merge in zip(videomae.encoder.layer, self.merges, strict=True):
            x, size = self._layer(layer, merge, x, size)
        if self.mean_pooling:
            pooled = x.mean(1) if size is None else (x * size).sum(1) / size.sum(1)
            pooled = self.model.fc_norm(pooled)
        else:
            pooled = videomae.layernorm(x[:, 0]) if videomae.layernorm is not None else x[:, 0]
        return self.model.classifier(pooled)

    def _layer(self, layer, merge: TokenMerge, x: torch.Tensor, size: torch.Tensor | None):
        """One `VideoMAELayer` (pre-norm attention, residual, pre-norm MLP, residual) through its own modules,
        with log(size) on the attention logits and the merge between attention and MLP."""
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        from transformers.models.videomae.modeling_videomae import eager_attention_forward

        attention = layer.attention.attention
        h = layer.layernorm_before(x)
        shape = (*h.shape[:-1], -1, attention.attention_head_size)
        keys = attention.key(h).view(shape).transpose(1, 2)
        values = attention.value(h).view(shape).transpose(1, 2)
        queries = attention.query(h).view(shape).transpose(1, 2)
        bias = None
        if size is not None and self.proportional_attention:
            bias = size.log()[:, None, None, :, 0]  # (B, 1, 1, t): a token of size s counts s times
        interface = ALL_ATTENTION_FUNCTIONS.get_interface(
            attention.config._attn_implementation, eager_attention_forward
        )
        context, _ = interface(attention, queries, keys, values, bias, is_causal=False, scaling=attention.scaling,
                               dropout=0.0)  # fmt: skip
        context = context.reshape(*context.shape[:-2], attention.all_head_size)
        x = layer.attention.output(context, h) + x
        if merge.r > 0:
            x, size = merge(x, size, keys.mean(1))
        return layer.output(layer.intermediate(layer.layernorm_after(x)), x), size


def merged(model, schedule: MergeSchedule, proportional_attention: bool = True) -> TokenMergedVideoMAE:
    """`model` wrapped with `schedule` resolved for its token count and depth."""
    layers = len(model.videomae.encoder.layer)
    protected = 0 if model.config.use_mean_pooling else 1
    r = schedule.per_layer(int(model.videomae.embeddings.num_patches), layers, protected)
    return TokenMergedVideoMAE(model, r, proportional_attention)
