"""The exportable datasets: who may export each, which filters apply, how rows are built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor_api.exports import measures, records
from monitor_api.exports.columns import Context, Query

EXPORT_ROLES = ("admin", "coordinator", "partner", "analyst")
# What partners see in condition histories (DOMAIN.md "Who sees what"): indicators,
# confirmed findings, recommendations and their reviews; not answers, not rooms.
PARTNER_DATASETS = ("visits", "findings", "recommendations", "indicators")
COMMON_FILTERS = frozenset({"date_from", "date_to", "region", "facility_type", "authority",
                            "facility", "published_only", "lang"})


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    description: str
    build: Callable[[Context], Query]
    filters: frozenset[str] = frozenset()  # beyond COMMON_FILTERS
    key: str | None = None  # the column that identifies a row

    def allowed(self, role: str) -> bool:
        """Whether a role may export this dataset."""
        return role in EXPORT_ROLES and (role != "partner" or self.name in PARTNER_DATASETS)

    def applies(self, name: str) -> bool:
        """Whether a filter narrows this dataset."""
        return name in COMMON_FILTERS or name in self.filters


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("visits", "Visits", "One row per visit: type, dates, population, capacity; "
            "allegations only as a count of those consented for publication (not for "
            "partners), withheld under 5.", records.visits, key="visit_ref"),
    Dataset("findings", "Findings", "One row per finding (confirmed ones for partners and "
            "analysts; drafts too for the visit's team): theme, severity, standards cited.",
            records.findings, frozenset({"theme", "severity", "standard"}), key="finding_ref"),
    Dataset("recommendations", "Recommendations", "One row per recommendation with its "
            "repeats chain and the status history of its follow-up reviews.",
            records.recommendations, frozenset({"theme", "recommendation_status"}),
            key="recommendation_ref"),
    Dataset("answers", "Checklist answers", "One row per answer: question, value and its "
            "label, compliance with the question's rule. No comments, no free-text answers.",
            measures.answers, frozenset({"theme", "standard"})),
    Dataset("room_inspections", "Room inspections", "One row per measured room: m² per "
            "person and the living-space thresholds it meets. No notes.",
            measures.room_inspections, key="room_ref"),
    Dataset("indicators", "Condition indicators", "One row per visit: occupancy, living "
            "space, compliance, findings, access incidents, recommendation follow-up.",
            measures.indicators, key="visit_ref"),
)}
BUNDLE = "all"  # format=zip only: every dataset the caller may export


def for_role(role: str) -> list[Dataset]:
    """The datasets a role may export, in the order above."""
    return [d for d in DATASETS.values() if d.allowed(role)]
