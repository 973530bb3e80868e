"""The named training settings that ``train --loss`` and ``demo --objectives`` both accept: one table, so a name
the demo trains is a name ``train`` takes, with the same λ.

Each name is a registered objective (cyclip_bench.objectives) with its cyclic λ fixed: C-CyCLIP and I-CyCLIP are
CyCLIP with only the cross-modal or only the in-modal term (docs/paper.md). Torch-free, so the command line can
list the names without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NamedObjective:
    """``loss``: the registered objective; ``lambda_inmodal``/``lambda_crossmodal``: its cyclic terms' weights."""

    name: str
    loss: str
    lambda_inmodal: float
    lambda_crossmodal: float

    @property
    def is_alias(self) -> bool:
        """A name for a λ setting of another objective (c-cyclip → cyclip), not an objective of its own."""
        return self.name != self.loss


NAMED_OBJECTIVES: dict[str, NamedObjective] = {
    n.name: n
    for n in (
        NamedObjective("clip", "clip", 0.0, 0.0),
        NamedObjective("cyclip", "cyclip", 0.25, 0.25),
        NamedObjective("c-cyclip", "cyclip", 0.0, 0.25),  # cross-modal term only
        NamedObjective("i-cyclip", "cyclip", 0.25, 0.0),  # in-modal term only
        # SigLIP's sigmoid loss, alone and with the cyclic terms as an add-on (do they help a sigmoid loss?)
        NamedObjective("siglip", "siglip", 0.0, 0.0),
        NamedObjective("siglip-cyclic", "siglip", 0.25, 0.25),
    )
}
