"""Cluster suggestion: enterprises of the same sub-sector within about a 5 km area (SME Foundation).

Algorithm (`suggest()`), linear in the number of MEs with a GPS point:
1. One query fetches (id, sub-sector, district, latitude, longitude) of the countable MEs that have
   a GPS point and no cluster yet.
2. Each point goes into a grid cell of side 2·r (r = ENTERPRISES_CLUSTER_RADIUS_KM, 2.5 km by
   default, so a cluster spans about 5 km) keyed by (sub-sector, row, column). Any point within r of
   a point lies in that point's cell or one of the 8 around it.
3. Cells are visited from the most crowded down. For each, the unassigned points of its 3-by-3 block that
   lie within r of the cell's centre of mass form a group; the centre is recomputed and the group
   re-gathered once more (a two-step mean shift), so it settles on the densest spot.
4. A group with at least ENTERPRISES_CLUSTER_MIN_MEMBERS members becomes a suggestion and its points
   leave the pool. Distances use an equirectangular projection around each centre (error far below
   1% at these distances).
At 80,000 MEs this is one query and about a second of Python in a Celery task; the PMU then accepts
(creating a Cluster, with members edited if needed) or dismisses each suggestion, through the rule
table SUGGESTION_RULES on core.lifecycle (each decision logged with who, when and the comment). A
dismissed group (same members) is not proposed again.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.roles import Role
from enterprises.models import (
    Cluster,
    ClusterSuggestion,
    Enterprise,
    SuggestionStatus,
)
from enterprises.permissions import can_see_cluster_suggestions, require_pmu

KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Point:
    pk: int
    sub_sector_id: int
    district_id: int
    lat: float
    lon: float


@dataclass
class Group:
    sub_sector_id: int
    points: list[Point]
    lat: float
    lon: float

    @property
    def district_id(self) -> int:
        return Counter(p.district_id for p in self.points).most_common(1)[0][0]

    @property
    def signature(self) -> str:
        return signature_of(p.pk for p in self.points)


def visible_suggestions(user) -> QuerySet[ClusterSuggestion]:
    """The suggestions `user` may see: all of them for whoever may see the list (the one rule of the
    pages and the API, `can_see_cluster_suggestions`), none for anyone else."""
    if can_see_cluster_suggestions(user):
        return ClusterSuggestion.objects.all()
    return ClusterSuggestion.objects.none()


def signature_of(ids) -> str:
    return hashlib.sha256(",".join(str(pk) for pk in sorted(ids)).encode()).hexdigest()


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat1 - lat2) * KM_PER_DEGREE
    dx = (lon1 - lon2) * KM_PER_DEGREE * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def radius_km() -> float:
    return float(getattr(settings, "ENTERPRISES_CLUSTER_RADIUS_KM", 2.5))


def min_members() -> int:
    return int(getattr(settings, "ENTERPRISES_CLUSTER_MIN_MEMBERS", 10))


def find_groups(points: list[Point], radius: float, minimum: int) -> list[Group]:
    """The grid algorithm of the module docstring, on plain points (tested on hand-made ones)."""
    side = 2 * radius
    lon_scale = KM_PER_DEGREE * math.cos(math.radians(23.7))  # Bangladesh's middle latitude

    def cell_of(lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat * KM_PER_DEGREE / side), math.floor(lon * lon_scale / side)

    grid: dict[tuple[int, int, int], list[Point]] = defaultdict(list)
    for point in points:
        grid[(point.sub_sector_id, *cell_of(point.lat, point.lon))].append(point)
    assigned: set[int] = set()

    def gather(sub_sector_id: int, lat: float, lon: float) -> list[Point]:
        row, col = cell_of(lat, lon)
        found = []
        for d_row in (-1, 0, 1):
            for d_col in (-1, 0, 1):
                for point in grid.get((sub_sector_id, row + d_row, col + d_col), ()):
                    if point.pk not in assigned and distance_km(lat, lon, point.lat, point.lon) <= radius:
                        found.append(point)
        return found

    groups = []
    for key in sorted(grid, key=lambda k: (-len(grid[k]), k)):
        seed = [p for p in grid[key] if p.pk not in assigned]
        if not seed:
            continue
        lat, lon = fmean(p.lat for p in seed), fmean(p.lon for p in seed)
        members: list[Point] = []
        for _step in range(2):
            members = gather(key[0], lat, lon)
            if not members:
                break
            lat, lon = fmean(p.lat for p in members), fmean(p.lon for p in members)
        # The final centre moved a little: keep only members still within the radius of it.
        members = [p for p in members if distance_km(lat, lon, p.lat, p.lon) <= radius]
        if len(members) >= minimum:
            assigned.update(p.pk for p in members)
            groups.append(Group(key[0], members, lat, lon))
    return groups


def candidate_points() -> list[Point]:
    rows = (
        Enterprise.objects.countable()
        .filter(cluster__isnull=True, latitude__isnull=False, longitude__isnull=False)
        .values_list("pk", "sub_sector_id", "district_id", "latitude", "longitude")
        .order_by()
    )
    return [
        Point(pk, sub, district, float(lat), float(lon))
        for pk, sub, district, lat, lon in rows.iterator(2000)
    ]


def suggest() -> int:
    """Recompute the open suggestions; return how many there are now."""
    radius = radius_km()
    groups = find_groups(candidate_points(), radius, min_members())
    dismissed = set(
        ClusterSuggestion.objects.filter(status=SuggestionStatus.DISMISSED).values_list(
            "signature", flat=True
        )
    )
    now = timezone.now()
    with transaction.atomic():
        ClusterSuggestion.objects.filter(status=SuggestionStatus.PROPOSED).delete()
        fresh = [group for group in groups if group.signature not in dismissed]
        suggestions = ClusterSuggestion.objects.bulk_create(
            ClusterSuggestion(
                sub_sector_id=group.sub_sector_id,
                district_id=group.district_id,
                centre_latitude=Decimal(f"{group.lat:.6f}"),
                centre_longitude=Decimal(f"{group.lon:.6f}"),
                radius_km=Decimal(f"{radius:.2f}"),
                member_count=len(group.points),
                signature=group.signature,
                computed_at=now,
            )
            for group in fresh
        )
        through = ClusterSuggestion.members.through
        through.objects.bulk_create(
            (
                through(clustersuggestion_id=suggestion.pk, enterprise_id=point.pk)
                for suggestion, group in zip(suggestions, fresh, strict=True)
                for point in group.points
            ),
            batch_size=2000,
        )
    return len(fresh)


# --- The PMU's decision on a suggestion, on the portal's one engine (core.lifecycle) ---------------
#
# A PMU officer accepts a proposed suggestion (creating the cluster, possibly leaving out some of the
# proposed members) or dismisses it (the same group is not proposed again). Each goes through
# `lifecycle.apply(suggestion, action, user, comment=..., **params)`, which logs who, when, from, to and
# the comment. `suggest()` replaces the proposed suggestions wholesale: creating and deleting them is
# not a decision (a proposed suggestion has no history yet).


def _proposed_points(suggestion: ClusterSuggestion, member_ids: list[int] | None) -> list[tuple]:
    proposed = suggestion.members.filter(cluster__isnull=True)
    if member_ids is not None:
        proposed = proposed.filter(pk__in=member_ids)
    return list(proposed.values_list("pk", "latitude", "longitude"))


def cluster_can_be_formed(suggestion: ClusterSuggestion, **context: Any) -> None:
    """GUARD: a name no other cluster has, and at least two enterprises not yet in a cluster."""
    name = (context.get("name") or "").strip()
    if not name:
        raise ActionRefused(_("Give the cluster a name."), code="invalid")
    if taken := _name_taken(name):
        raise ActionRefused(taken, code="invalid")
    if len(_proposed_points(suggestion, context.get("member_ids"))) < 2:
        raise ActionRefused(
            _("A cluster needs at least two enterprises not yet in a cluster."), code="invalid"
        )


def form_cluster(suggestion: ClusterSuggestion, **context: Any) -> list[str]:
    """EFFECT: create the cluster from the members kept, centred on them; the suggestion points to it."""
    user = context["_user"]
    points = _proposed_points(suggestion, context.get("member_ids"))
    cluster = Cluster.objects.create(
        name=context["name"].strip(),
        sub_sector_id=suggestion.sub_sector_id,
        district_id=suggestion.district_id,
        centre_latitude=Decimal(f"{fmean(float(lat) for _pk, lat, _lon in points):.6f}"),
        centre_longitude=Decimal(f"{fmean(float(lon) for _pk, _lat, lon in points):.6f}"),
        description=context.get("description") or "",
        created_by=user,
    )
    Enterprise.objects.filter(pk__in=[pk for pk, _lat, _lon in points], cluster__isnull=True).update(
        cluster=cluster
    )
    suggestion.cluster = cluster
    return ["cluster", *stamp_resolution(suggestion, **context)]


def stamp_resolution(suggestion: ClusterSuggestion, **context: Any) -> list[str]:
    """EFFECT: who decided, and when (the log has it too, with the comment)."""
    suggestion.resolved_by = context["_user"]
    suggestion.resolved_at = timezone.now()
    return ["resolved_by", "resolved_at"]


PMU = {Role.PMU_OFFICER}
SUGGESTION_RULES = [
    lifecycle.rule(
        "accept",
        _lazy("Create the cluster"),
        [SuggestionStatus.PROPOSED],
        SuggestionStatus.ACCEPTED,
        PMU,
        guards=("cluster_can_be_formed",),
        effect="form_cluster",
        params=("name", "member_ids", "description"),
        # Taken from the suggestion's own form (name, members), not from a plain button.
        button=False,
    ),
    lifecycle.rule(
        "dismiss",
        _lazy("Dismiss"),
        [SuggestionStatus.PROPOSED],
        SuggestionStatus.DISMISSED,
        PMU,
        effect="stamp_resolution",
        style="secondary",
        waits=False,
    ),
]

SUGGESTION_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        ClusterSuggestion,
        SUGGESTION_RULES,
        guards={"cluster_can_be_formed": cluster_can_be_formed},
        effects={"form_cluster": form_cluster, "stamp_resolution": stamp_resolution},
    )
)


def accept_suggestion(
    *,
    user,
    suggestion: ClusterSuggestion,
    name: str,
    member_ids: list[int] | None = None,
    description: str = "",
    comment: str = "",
) -> Cluster:
    """Accept a suggestion through the engine and return the cluster it created (the PMU may leave
    out some of the proposed members)."""
    accepted = lifecycle.apply(
        suggestion,
        "accept",
        user,
        comment=comment,
        name=name,
        member_ids=member_ids,
        description=description,
    )
    cluster = accepted.cluster
    if cluster is None:  # never: the rule's effect (form_cluster) sets it
        raise RuntimeError("an accepted cluster suggestion has no cluster")
    return cluster


def _name_taken(name: str, cluster: Cluster | None = None) -> str:
    """Why `name` cannot be used (cluster names are unique whatever their case), or ""."""
    others = Cluster.objects.exclude(pk=cluster.pk) if cluster else Cluster.objects.all()
    if others.filter(name__iexact=name).exists():
        return _("A cluster named %(name)s already exists.") % {"name": name}
    return ""


def edit_cluster(
    *, user, cluster: Cluster, name: str | None = None, description: str | None = None
) -> Cluster:
    """Rename a cluster (names are unique whatever their case) and/or change its description."""
    require_pmu(user, _("edit clusters"))
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": _("Give the cluster a name.")})
        if taken := _name_taken(name, cluster):
            raise ValidationError({"name": taken})
        cluster.name = name
    if description is not None:
        cluster.description = description
    cluster.save(update_fields=["name", "description"])
    return cluster


def remove_members(*, user, cluster: Cluster, enterprise_ids: list[int]) -> int:
    require_pmu(user, _("edit clusters"))
    with transaction.atomic():
        removed = Enterprise.objects.filter(cluster=cluster, pk__in=enterprise_ids).update(cluster=None)
    return removed


def dissolve_cluster(*, user, cluster: Cluster) -> None:
    require_pmu(user, _("dissolve clusters"))
    with transaction.atomic():
        Enterprise.objects.filter(cluster=cluster).update(cluster=None)
        cluster.delete()
