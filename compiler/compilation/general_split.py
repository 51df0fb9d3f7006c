"""Split the general prompt pack: whole families per kind of task go to train or to test_general.

Pure: (the spec's retain.general, the pack, seed, how many rule lessons train holds) →
`GeneralSides`. The same seeded stable hash as every other split (records.stable_unit):
in each kind, `held_out` of the families (at least one, never all: budget.held_count) go to the
test side; the rest are the train side. Both sides are then sampled down to their size,
taking the kinds in turn so that every kind of task is on both sides:

  train: share × rule lessons / (1 − share) prompts; 0.08 with 604 rule lessons → round(52.52) = 53,
         so 53 of the 657 lessons (8 %) are general
  test_general: test_size prompts; 20 over 12 kinds → 2 prompts of 8 kinds, 1 of the other 4
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..spec.general_pack import GeneralPack
from ..records import GeneralPrompt, stable_unit
from ..spec.model import GeneralRetain
from ..spec.budget import held_count


# Internal, not a SyllabusError: chain._general turns it into a SpecError located at `path`.
class GeneralShortfall(Exception):
    """The pack cannot give a side the prompts the spec asks for; `path` is the spec field to change."""

    def __init__(self, path: tuple, message: str, hint: str):
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint


@dataclass(frozen=True)
class GeneralSides:
    """General prompts on each side, sorted by id."""

    train: tuple[GeneralPrompt, ...]
    test: tuple[GeneralPrompt, ...]


def retain_count(share: float, n_lessons: int) -> int:
    """Rule lessons + the share general lessons should have of all lessons → general lessons:
    n·s/(1−s), at least 1. 604 lessons at 0.08 → round(52.52) = 53; at 0.5 → 604; at 0.9 → 5436."""
    return max(1, round(n_lessons * share / (1.0 - share)))


def _spread(prompts: list[GeneralPrompt], n: int, seed: int, side: str) -> tuple[GeneralPrompt, ...]:
    """n prompts, the kinds taken in a seeded turn and each kind's prompts in a seeded order."""
    by_kind: dict[str, list[GeneralPrompt]] = defaultdict(list)
    for p in prompts:
        by_kind[p.kind].append(p)
    for items in by_kind.values():
        items.sort(key=lambda p: (stable_unit(seed, "general", side, p.id), p.id))
    kinds = sorted(by_kind, key=lambda k: (stable_unit(seed, "general", side, k), k))
    picked: list[GeneralPrompt] = []
    depth = 0
    while len(picked) < n and any(depth < len(by_kind[k]) for k in kinds):
        picked += [by_kind[k][depth] for k in kinds if depth < len(by_kind[k])][: n - len(picked)]
        depth += 1
    return tuple(sorted(picked, key=lambda p: p.id))


def split_general(settings: GeneralRetain, pack: GeneralPack, seed: int, n_lessons: int) -> GeneralSides:
    """(retain.general, pack, seed, rule lessons in train) → GeneralSides; GeneralShortfall when a
    side has fewer prompts than asked for."""
    families: dict[str, list[str]] = defaultdict(list)
    for p in pack.prompts:
        if p.family not in families[p.kind]:
            families[p.kind].append(p.family)
    held: set[tuple[str, str]] = set()
    for kind, fams in families.items():
        ranked = sorted(fams, key=lambda f: (stable_unit(seed, "hold", "general", kind, f), f))
        held |= {(kind, f) for f in ranked[: held_count(len(ranked), settings.held_out)]}
    train_pool = [p for p in pack.prompts if (p.kind, p.family) not in held]
    test_pool = [p for p in pack.prompts if (p.kind, p.family) in held]
    if not test_pool:
        raise GeneralShortfall(("retain", "general", "held_out"),
                               f"holds out no general prompt family: no kind of task in the pack has two families "
                               f"({len(pack.prompts)} prompts in {len(families)} kinds)",
                               "test_general would be empty: add families to compiler/templates/general/ (or a pack's general/)")
    want = retain_count(settings.share, n_lessons)
    if want > len(train_pool):
        pct = round(settings.held_out * 100)
        raise GeneralShortfall(("retain", "general", "share"),
                               f"share {settings.share:g} of {n_lessons} rule lessons needs {want} general retain lessons, "
                               f"but the pack leaves {len(train_pool)} prompts for train (after holding out {pct}% "
                               "of its families)",
                               f"lower retain.general.share (at most {len(train_pool) / (len(train_pool) + n_lessons):.2f} "
                               "here) or retain.general.held_out")
    if settings.test_size > len(test_pool):
        raise GeneralShortfall(("retain", "general", "test_size"),
                               f"test_size {settings.test_size} is more than the {len(test_pool)} held-out general prompts",
                               f"lower retain.general.test_size to {len(test_pool)} or less, or raise retain.general.held_out")
    return GeneralSides(_spread(train_pool, want, seed, "train"), _spread(test_pool, settings.test_size, seed, "test"))
