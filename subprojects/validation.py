"""What makes a concept note, a proposal or an award complete: lists of problems, each naming the field.

Drafts may be incomplete; these checks run when the PO submits (and when the approver awards), so
the PO sees every missing piece at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.errors import Problem
from core.numbers import group
from core.uploads import DOCUMENT_KINDS, check_upload
from subprojects.models import Call, ConceptNote, Proposal, SubProject


def deadline_problem(deadline: datetime | None) -> str:
    """A proposal deadline (at the invitation, or moved later) lies in the future."""
    if deadline is None or deadline <= timezone.now():
        return _("The deadline must be in the future.")
    return ""


def _money(value: Decimal) -> str:
    return f"{group(value)} BDT"


def targeting_errors(
    *,
    call,
    sector=None,
    sub_sectors=(),
    districts=(),
    upazilas=(),
    mes_targeted: int | None = None,
    women_led_mes_targeted: int | None = None,
    estimated_budget: Decimal | None = None,
) -> dict[str, str]:
    """Consistency that holds even for drafts, by field: used by the forms and the API alike."""
    errors: dict[str, str] = {}
    if sector is not None:
        outside = [sub.name for sub in sub_sectors if sub.sector_id != sector.pk]
        if outside:
            errors["sub_sectors"] = _("%(subs)s not in the sector %(sector)s.") % {
                "subs": ", ".join(outside),
                "sector": sector,
            }
        if not call.sector_is_eligible(sector):
            errors["sector"] = _("This sector is not eligible under the call %(call)s.") % {
                "call": call.reference
            }
    district_ids = {district.pk for district in districts}
    stray = [upazila.name for upazila in upazilas if upazila.district_id not in district_ids]
    if stray:
        errors["target_upazilas"] = _("%(names)s not in the chosen target districts.") % {
            "names": ", ".join(stray)
        }
    if (
        mes_targeted is not None
        and women_led_mes_targeted is not None
        and women_led_mes_targeted > mes_targeted
    ):
        errors["women_led_mes_targeted"] = _("Women-led MEs cannot exceed the MEs targeted.")
    if estimated_budget is not None and estimated_budget > call.ceiling_budget:
        errors["estimated_budget"] = _("The estimate exceeds the call's ceiling of %(ceiling)s.") % {
            "ceiling": _money(call.ceiling_budget)
        }
    return errors


def budget_lines_error(call: Call, amounts: list[Decimal]) -> str:
    """Budget lines above the call's ceiling, as the proposal form and the API say it ("" if within)."""
    total = sum(amounts, Decimal("0"))
    if total <= call.ceiling_budget:
        return ""
    return _("The budget lines add up to %(total)s BDT, above the call's ceiling of %(ceiling)s BDT.") % {
        "total": group(total),
        "ceiling": group(call.ceiling_budget),
    }


def attachment_mime_type(upload: UploadedFile) -> str:
    """The type of an attachment, read from its content; raises ValidationError naming the problem."""
    kind = check_upload(upload, DOCUMENT_KINDS, settings.ATTACHMENT_MAX_MB * 1024 * 1024)
    return kind.mime_types[0]


@dataclass(frozen=True)
class Section:
    """A part of the note's or proposal's form, as its legend names it: `anchor` is the fieldset's id
    on the form page, so a page listing what is missing links to where it is filled in."""

    anchor: str
    label: str | Promise


WHAT_AND_WHERE = Section("what-and-where", _lazy("1. What and where"))
ENTERPRISES = Section("enterprises", _lazy("2. Enterprises"))
PROBLEM = Section("problem-and-solutions", _lazy("3. Problem and solutions"))
NOTE_BUDGET = Section("budget", _lazy("4. Budget"))
WORK_PLAN = Section("objectives-and-work-plan", _lazy("4. Objectives and work plan"))
BUDGET = Section("budget", _lazy("5. Budget"))
RESULTS = Section("committed-results", _lazy("6. Committed results"))
SCREENING = Section("es-screening", _lazy("7. Environmental and social screening"))


@dataclass
class Missing:
    """What one section still lacks before submission."""

    section: Section
    problems: list[str] = field(default_factory=list)


Found = list[tuple[Section, str]]


def _by_section(found: Found) -> list[Missing]:
    """The problems grouped by section, in the form's order (the order they were found in)."""
    grouped: dict[Section, Missing] = {}
    for section, problem in found:
        grouped.setdefault(section, Missing(section)).problems.append(problem)
    return list(grouped.values())


def _targeting_found(obj: ConceptNote | Proposal) -> Found:
    """Checks shared by notes and proposals (both carry the same targeting fields)."""
    found: Found = []
    if not obj.title.strip():
        found.append((WHAT_AND_WHERE, Problem(_("Title is missing"), "title", "required")))
    sub_sectors = list(obj.sub_sectors.all())
    if not sub_sectors:
        found.append(
            (WHAT_AND_WHERE, Problem(_("Choose at least one sub-sector"), "sub_sectors", "required"))
        )
    elif any(sub.sector_id != obj.sector_id for sub in sub_sectors):
        found.append(
            (
                WHAT_AND_WHERE,
                Problem(
                    _("Sub-sectors must belong to the sector %(sector)s") % {"sector": obj.sector},
                    "sub_sectors",
                ),
            )
        )
    if not obj.call.sector_is_eligible(obj.sector):
        found.append(
            (
                WHAT_AND_WHERE,
                Problem(
                    _("The sector %(sector)s is not eligible under this call") % {"sector": obj.sector},
                    "sector",
                ),
            )
        )
    districts = set(obj.target_districts.values_list("pk", flat=True))
    if not districts:
        found.append(
            (
                WHAT_AND_WHERE,
                Problem(_("Choose at least one target district"), "target_districts", "required"),
            )
        )
    if obj.target_upazilas.exclude(district_id__in=districts).exists():
        found.append(
            (
                WHAT_AND_WHERE,
                Problem(_("Every target upazila must lie in one of the target districts"), "target_upazilas"),
            )
        )
    if obj.mes_targeted <= 0:
        found.append(
            (
                ENTERPRISES,
                Problem(_("Number of MEs targeted must be more than zero"), "mes_targeted", "min_value"),
            )
        )
    if obj.women_led_mes_targeted > obj.mes_targeted:
        found.append(
            (
                ENTERPRISES,
                Problem(_("Women-led MEs cannot exceed the MEs targeted"), "women_led_mes_targeted"),
            )
        )
    for field_name in ("problem", "environmental_issues", "proposed_recp_practices"):
        if not getattr(obj, field_name).strip():
            label = str(obj._meta.get_field(field_name).verbose_name)
            missing = _("%(field)s is missing") % {"field": label[:1].upper() + label[1:]}
            found.append((PROBLEM, Problem(missing, field_name, "required")))
    return found


def targeting_problems(obj: ConceptNote | Proposal) -> list[str]:
    return [problem for _section, problem in _targeting_found(obj)]


def concept_note_missing(note: ConceptNote) -> list[Missing]:
    """What the concept note lacks before it can be submitted, by section of its form."""
    found = _targeting_found(note)
    if note.estimated_budget is None or note.estimated_budget <= 0:
        found.append((NOTE_BUDGET, Problem(_("Estimated budget is missing"), "estimated_budget", "required")))
    elif note.estimated_budget > note.call.ceiling_budget:
        found.append(
            (
                NOTE_BUDGET,
                Problem(
                    _("Estimated budget %(budget)s exceeds the call's ceiling of %(ceiling)s")
                    % {"budget": _money(note.estimated_budget), "ceiling": _money(note.call.ceiling_budget)},
                    "estimated_budget",
                    "max_value",
                ),
            )
        )
    return _by_section(found)


def concept_note_problems(note: ConceptNote) -> list[str]:
    """The same, as one list: what the "submit" guard names when it refuses."""
    return [problem for missing in concept_note_missing(note) for problem in missing.problems]


def proposal_missing(proposal: Proposal) -> list[Missing]:
    """What the proposal lacks before it can be submitted, by section of its form."""
    found = _targeting_found(proposal)
    if not proposal.objectives.strip():
        found.append((WORK_PLAN, Problem(_("Objectives are missing"), "objectives", "required")))
    if not proposal.duration_months:
        found.append((WORK_PLAN, Problem(_("Duration in months is missing"), "duration_months", "required")))
    activities = list(proposal.activities.all())
    if not activities:
        found.append(
            (WORK_PLAN, Problem(_("Add at least one activity to the work plan"), "activities", "required"))
        )
    elif proposal.duration_months and any(a.end_month > proposal.duration_months for a in activities):
        found.append(
            (
                WORK_PLAN,
                Problem(
                    _("Work plan activities must end within the %(months)s months of the sub-project")
                    % {"months": proposal.duration_months},
                    "activities",
                ),
            )
        )
    totals = proposal.budget_totals()
    if totals["total"] <= 0:
        found.append((BUDGET, Problem(_("Add at least one budget line"), "budget_lines", "required")))
    elif totals["total"] > proposal.call.ceiling_budget:
        found.append(
            (
                BUDGET,
                Problem(
                    _("Budget total %(total)s exceeds the call's ceiling of %(ceiling)s")
                    % {"total": _money(totals["total"]), "ceiling": _money(proposal.call.ceiling_budget)},
                    "budget_lines",
                    "max_value",
                ),
            )
        )
    if not proposal.committed_results.exists():
        found.append(
            (RESULTS, Problem(_("Commit to at least one result indicator"), "committed_results", "required"))
        )
    # The E&S screening (risk category, management plan, mitigation measures): safeguards.reviews.
    from safeguards.reviews import screening_problems

    found += [(SCREENING, problem) for problem in screening_problems(proposal)]
    if not proposal.exclusion_list_checked:
        found.append(
            (SCREENING, Problem(_("Confirm the exclusion-list check"), "exclusion_list_checked", "required"))
        )
    if proposal.doe_clearance_required is None:
        needed = _("Say whether Department of Environment clearance is needed")
        found.append((SCREENING, Problem(needed, "doe_clearance_required", "required")))
    return _by_section(found)


def proposal_problems(proposal: Proposal) -> list[str]:
    """The same, as one list: what the "submit" guard names when it refuses."""
    return [problem for missing in proposal_missing(proposal) for problem in missing.problems]


def no_objection_letter_problems(params: dict[str, Any]) -> list[str]:
    """What the World Bank's no-objection lacks: its letter's reference and date, each named (the
    date checked by its model field's validators: within the programme, not in the future)."""
    problems = []
    reference_field = Proposal._meta.get_field("no_objection_reference")
    reference = str(params.get("no_objection_reference") or "").strip()
    label = str(reference_field.verbose_name)
    if not reference:
        problems.append(_("%(field)s is missing") % {"field": label[:1].upper() + label[1:]})
    elif len(reference) > reference_field.max_length:
        problems.append(
            _("%(field)s is longer than %(max)s characters")
            % {"field": label[:1].upper() + label[1:], "max": reference_field.max_length}
        )
    date_field = Proposal._meta.get_field("no_objection_date")
    day = params.get("no_objection_date")
    if not isinstance(day, date):
        label = str(date_field.verbose_name)
        problems.append(_("%(field)s is missing") % {"field": label[:1].upper() + label[1:]})
    else:
        for validator in date_field.validators:
            try:
                validator(day)
            except ValidationError as exc:
                problems.extend(exc.messages)
    return problems


def award_date_rules(
    award_date: date | None, start_date: date | None, end_date: date | None
) -> list[tuple[str, str, str]]:
    """The rules of an award's dates, each stated once, for the dates given: `(field, error,
    problem)` for each broken one, `error` as the award form shows it on the field and `problem` as
    a refused award lists it. The end date is the sub-project's own rule (SubProject.clean)."""
    broken = []
    if award_date and award_date > timezone.localdate():
        broken.append(
            (
                "award_date",
                _("The award date cannot be in the future."),
                _("Award date cannot be in the future"),
            )
        )
    if start_date and award_date and start_date < award_date:
        broken.append(
            (
                "start_date",
                _("The start date cannot be before the award date."),
                _("Start date cannot be before the award date"),
            )
        )
    try:
        SubProject(start_date=start_date, end_date=end_date).clean()
    except ValidationError as exc:
        for message in exc.message_dict.get("end_date", []):
            broken.append(("end_date", message, _("End date must be after the start date")))
    # Each date's plausible range (its model field's validators, core.validators), once per field.
    given = {"award_date": award_date, "start_date": start_date, "end_date": end_date}
    for name, value in given.items():
        if value is None or any(field == name for field, _error, _problem in broken):
            continue
        for validator in SubProject._meta.get_field(name).validators:
            try:
                validator(value)
            except ValidationError as exc:
                broken.extend((name, message, message) for message in exc.messages)
    return broken


def _as_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


def award_problems(proposal: Proposal, params: dict[str, Any]) -> list[str]:
    problems = []
    agreement_number = str(params.get("agreement_number") or "").strip()
    if not agreement_number:
        problems.append(Problem(_("Agreement number is missing"), "agreement_number", "required"))
    elif SubProject.objects.filter(agreement_number=agreement_number).exists():
        used = _("Agreement number %(number)s is already used") % {"number": agreement_number}
        problems.append(Problem(used, "agreement_number", "unique"))
    dates = {name: params.get(name) for name in ("award_date", "start_date", "end_date")}
    labels = {"award_date": _("Award date"), "start_date": _("Start date"), "end_date": _("End date")}
    for name, value in dates.items():
        if not isinstance(value, date):
            problems.append(Problem(_("%(field)s is missing") % {"field": labels[name]}, name, "required"))
    if all(isinstance(value, date) for value in dates.values()):
        problems += [Problem(problem, field) for field, _error, problem in award_date_rules(**dates)]
    shares = {
        name: _as_decimal(params.get(name)) for name in ("budget_world_bank", "budget_pksf", "budget_po")
    }
    if any(value is None or value < 0 for value in shares.values()):
        problems.append(_("Budget shares must be amounts of zero or more"))
    else:
        total = sum(shares.values(), Decimal("0"))
        if total <= 0:
            problems.append(_("The approved budget must be more than zero"))
        elif total > proposal.call.ceiling_budget:
            problems.append(
                _("Approved budget %(total)s exceeds the call's ceiling of %(ceiling)s")
                % {"total": _money(total), "ceiling": _money(proposal.call.ceiling_budget)}
            )
    return problems
