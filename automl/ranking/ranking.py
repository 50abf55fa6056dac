"""The result of ranking features: an ordered table of (feature, score, cardinality, rank)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

FIELDS = ("feature", "score", "cardinality", "rank")


@dataclass(frozen=True)
class RankedFeature:
    """One row of a ranking; rank 1 is the most useful feature."""

    feature: str
    score: float
    cardinality: int
    rank: int


@dataclass(frozen=True)
class Ranking:
    """Features in rank order, with the name of the ranker that ordered them.

    ``cardinality`` is the number of distinct codes seen for the feature (distinct values,
    or quantile bins for binned numeric columns, capped by the hashing code space).
    """

    rows: tuple[RankedFeature, ...]
    ranker: str = ""

    @classmethod
    def from_order(
        cls,
        features: Sequence[str],
        scores: Sequence[float],
        cardinalities: Sequence[int],
        order: Sequence[int],
        ranker: str,
    ) -> Ranking:
        """Build a ranking that lists ``features[order[0]]`` first, ``features[order[1]]`` second, ..."""
        rows = tuple(
            RankedFeature(str(features[index]), float(scores[index]), int(cardinalities[index]), position + 1)
            for position, index in enumerate(order)
        )
        return cls(rows, ranker)

    @classmethod
    def from_scores(
        cls, features: Sequence[str], scores: Sequence[float], cardinalities: Sequence[int], ranker: str
    ) -> Ranking:
        """Highest score first; ties keep the column order, so equal inputs give equal rankings."""
        order = sorted(range(len(features)), key=lambda index: -float(scores[index]))
        return cls.from_order(features, scores, cardinalities, order, ranker)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[RankedFeature]:
        return iter(self.rows)

    @property
    def features(self) -> list[str]:
        """Feature names, best first."""
        return [row.feature for row in self.rows]

    def top(self, count: int) -> Ranking:
        """The first ``count`` features."""
        return Ranking(self.rows[: max(count, 0)], self.ranker)

    def to_records(self) -> list[dict[str, object]]:
        """Rows as plain dictionaries (feature, score, cardinality, rank)."""
        return [asdict(row) for row in self.rows]

    def to_csv(self, path: str | Path) -> Path:
        """Write the ranking as CSV with a header row; returns the path written."""
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(self.to_records())
        return path

    def to_json(self, path: str | Path) -> Path:
        """Write ``{"ranker": ..., "features": [rows]}`` as JSON; returns the path written."""
        path = Path(path)
        path.write_text(json.dumps({"ranker": self.ranker, "features": self.to_records()}, indent=2) + "\n")
        return path
