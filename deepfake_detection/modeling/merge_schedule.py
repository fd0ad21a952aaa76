"""Token merging schedules (ToMe's `r` per layer) and what a merged fast model records: no torch, so the fast
path's settings and a served model's description load without the model code (`modeling.token_merging`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from deepfake_detection.modeling.token_merging import TokenMergedVideoMAE


class MergeSchedule(BaseModel):
    """How many tokens each transformer layer merges away: ToMe's `r`, given directly or by what is left.

    `r`: one number for every layer (ToMe's constant schedule) or one per layer; `keep`: the fraction of the
    tokens left after the last layer (portable across model sizes). `decreasing`: ToMe's decreasing schedule,
    r falling linearly to the last layer (layer i of L gets a share proportional to L - i), so the early layers,
    where tokens are many and attention costs most, merge most. Each layer merges at most half of its tokens
    (bipartite matching pairs each A token with one B token).
    """

    model_config = ConfigDict(extra="forbid")

    r: int | list[int] | None = Field(None, description="tokens merged away per layer (one for all, or one each)")
    keep: float | None = Field(None, gt=0.0, le=1.0, description="or: fraction of the tokens left at the end")
    decreasing: bool = Field(False, description="r falls linearly over the layers (with `keep` or a single `r`)")

    @model_validator(mode="after")
    def _one_of(self) -> MergeSchedule:
        if (self.r is None) == (self.keep is None):
            raise ValueError("give a merge schedule as `r` (per layer) or `keep` (fraction left), not both")
        if self.r is not None and min([self.r] if isinstance(self.r, int) else self.r or [0]) < 0:
            raise ValueError("r must be >= 0")
        if self.decreasing and isinstance(self.r, list):
            raise ValueError("`decreasing` shapes `keep` or a single `r`; a list of r is already a shape")
        return self

    @property
    def spec(self) -> str:
        """The schedule as configured: "keep=0.3", "r=16", "r=[64, 32, 0]"."""
        spec = f"keep={self.keep:g}" if self.keep is not None else f"r={self.r}"
        return spec + (" decreasing" if self.decreasing else "")

    def per_layer(self, num_tokens: int, num_layers: int, protected: int = 0) -> list[int]:
        """The r each layer actually merges for a model of `num_tokens` tokens and `num_layers` layers."""
        if self.keep is not None or isinstance(self.r, int):
            total = num_tokens * (1.0 - self.keep) if self.keep is not None else self.r * num_layers
            shares = [num_layers - i for i in range(num_layers)] if self.decreasing else [1] * num_layers
            wanted = [math.floor(total * w / sum(shares)) for w in shares]
        else:
            if len(self.r) != num_layers:
                raise ValueError(f"the schedule gives r for {len(self.r)} layers; the model has {num_layers}")
            wanted = list(self.r)
        out, tokens = [], num_tokens
        for r in wanted:
            r = max(0, min(r, (tokens - protected) // 2))
            out.append(r)
            tokens -= r
        return out


def schedule_label(r: list[int]) -> str:
    """Short name of a resolved schedule: "r104" (constant), "r200-100-0" (per layer), "" (no merging)."""
    if not any(r):
        return ""
    return f"r{r[0]}" if len(set(r)) == 1 else "r" + "-".join(str(v) for v in r)


def token_counts(num_tokens: int, r: list[int]) -> list[int]:
    """Tokens entering each layer's attention, then the count the head pools: len(r) + 1 numbers."""
    counts = [num_tokens]
    for v in r:
        counts.append(counts[-1] - v)
    return counts


class MergeInfo(BaseModel):
    """The schedule a fast model was built with, as resolved for its model (what `/model` and the card show)."""

    schedule: str = Field(description='as configured: "keep=0.3", "r=16"')
    label: str = Field(description='short name of the resolved schedule ("r104"); part of the backend name')
    r: list[int] = Field(description="tokens merged away in each layer")
    tokens: list[int] = Field(description="tokens entering each layer, then the count the head pools")
    proportional_attention: bool

    @classmethod
    def of(cls, module: TokenMergedVideoMAE, schedule: MergeSchedule) -> MergeInfo:
        return cls(schedule=schedule.spec, label=schedule_label(module.r), r=module.r, tokens=module.tokens,
                   proportional_attention=module.proportional_attention)  # fmt: skip

    @property
    def token_fraction(self) -> float:
        """Mean tokens per layer over the unmerged count: roughly the share of the encoder's work left."""
        per_layer = [(a + b) / 2 for a, b in zip(self.tokens[:-1], self.tokens[1:], strict=True)]
        return sum(per_layer) / len(per_layer) / self.tokens[0]
