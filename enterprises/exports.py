"""Columns of the CSV/XLSX exports of every field-data list (core.exports streams them).

Exports contain only rows of the user's `visible_to` scope, so owner names and phones go only to
those who may see the enterprise's PO. A confirmed duplicate's original is named only to
programme-wide roles: to a PO it may be another PO's enterprise.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.exports import Column


def _name(user) -> str:
    return user.get_display_name() if user is not None else ""


def financier_label(support) -> str:
    """Rows entered before the financier was recorded hold "": "not stated"."""
    return support.get_financier_display() if support.financier else str(_("not stated"))


def module_code(session) -> str:
    return session.module.code if session.module_id else str(_("not mapped to a module"))


def climate_tagged(session) -> bool | str:
    """Yes or no by the module's tag; a session not mapped counts for no indicator."""
    return session.module.climate_vulnerability if session.module_id else ""


def enterprise_columns(user) -> list[Column]:
    columns = [
        Column(_("ME code"), lambda me: me.po_code),
        Column(_("PO"), lambda me: me.partner_organization.code),
        Column(_("Sub-project"), lambda me: me.sub_project.agreement_number),
        Column(_("Enterprise name"), lambda me: me.name),
        Column(_("Owner name"), lambda me: me.owner_name),
        Column(_("Owner gender"), lambda me: me.get_owner_gender_display()),
        Column(_("Phone"), lambda me: me.phone),
        Column(_("Formal"), lambda me: me.is_formal),
        Column(_("Trade licence number"), lambda me: me.trade_licence_number),
        Column(_("Business area"), lambda me: me.sub_sector.sector.business_area.name),
        Column(_("Sector"), lambda me: me.sub_sector.sector.name),
        Column(_("Sub-sector"), lambda me: me.sub_sector.name),
        Column(_("Division"), lambda me: me.division.name),
        Column(_("District"), lambda me: me.district.name),
        Column(_("Upazila"), lambda me: me.upazila.name),
        Column(_("Latitude"), lambda me: me.latitude),
        Column(_("Longitude"), lambda me: me.longitude),
        Column(_("Climate-vulnerable"), lambda me: me.climate_vulnerable),
        Column(_("Self-employed"), lambda me: me.self_employed),
        Column(_("Wage-employed men"), lambda me: me.wage_employed_male),
        Column(_("Wage-employed women"), lambda me: me.wage_employed_female),
        Column(_("Total jobs"), lambda me: me.total_jobs),
        Column(_("Wage-employed men at registration"), lambda me: me.wage_employed_male_at_registration),
        Column(_("Wage-employed women at registration"), lambda me: me.wage_employed_female_at_registration),
        Column(_("Year started"), lambda me: me.year_started),
        Column(_("Joined on"), lambda me: me.registered_on),
        Column(_("Cluster"), lambda me: me.cluster.name if me.cluster_id else ""),
        Column(_("Confirmed duplicate"), lambda me: me.duplicate_of_id is not None),
    ]
    if user.sees_whole_programme:
        columns.append(
            Column(
                _("Duplicate of"),
                lambda me: (
                    f"{me.duplicate_of.partner_organization.code}/{me.duplicate_of.po_code}"
                    if me.duplicate_of_id
                    else ""
                ),
            )
        )
    return columns


ENTERPRISE_RELATED = [
    "partner_organization",
    "sub_project",
    "sub_sector__sector__business_area",
    "division",
    "district",
    "upazila",
    "cluster",
]


def _record_columns() -> list[Column]:
    return [
        Column(_("PO"), lambda r: r.enterprise.partner_organization.code),
        Column(_("ME code"), lambda r: r.enterprise.po_code),
        Column(_("Enterprise name"), lambda r: r.enterprise.name),
    ]


def financial_support_columns(user) -> list[Column]:
    return [
        *_record_columns(),
        Column(_("Type"), lambda s: s.get_kind_display()),
        Column(_("Amount (BDT)"), lambda s: s.amount),
        Column(_("Financed by"), financier_label),
        Column(_("Disbursed on"), lambda s: s.disbursed_on),
        Column(_("Counted as project financing"), lambda s: not s.is_before_programme_start),
        Column(_("Reference"), lambda s: s.reference),
    ]


def training_columns(user) -> list[Column]:
    return [
        Column(_("PO"), lambda t: t.partner_organization.code),
        Column(_("Session code"), lambda t: t.po_code),
        Column(_("Sub-project"), lambda t: t.sub_project.agreement_number),
        Column(_("Module code"), module_code),
        Column(_("Module"), lambda t: t.module.name if t.module_id else ""),
        Column(_("Climate vulnerability module"), climate_tagged),
        Column(_("Title or notes"), lambda t: t.topic),
        Column(_("Held on"), lambda t: t.held_on),
        Column(_("Place"), lambda t: t.place),
        Column(_("District"), lambda t: t.district.name if t.district_id else ""),
        Column(_("Facilitator"), lambda t: t.facilitator),
        Column(_("Attendees"), lambda t: getattr(t, "attendee_count", "")),
    ]


def attendance_columns(user) -> list[Column]:
    return [
        *_record_columns(),
        Column(_("Session code"), lambda a: a.session.po_code),
        Column(_("Module code"), lambda a: module_code(a.session)),
        Column(_("Climate vulnerability module"), lambda a: climate_tagged(a.session)),
        Column(_("Title or notes"), lambda a: a.session.topic),
        Column(_("Held on"), lambda a: a.session.held_on),
        Column(_("Pre-test score"), lambda a: a.pre_test_score),
        Column(_("Post-test score"), lambda a: a.post_test_score),
        Column(_("Knowledge increased"), lambda a: a.knowledge_increased),
    ]


def adoption_columns(user) -> list[Column]:
    return [
        *_record_columns(),
        Column(_("Practice code"), lambda a: a.practice.code),
        Column(_("Practice"), lambda a: a.practice.name),
        Column(_("Category"), lambda a: a.practice.get_category_display()),
        Column(_("Adopted on"), lambda a: a.adopted_on),
        Column(_("Seen in use on"), lambda a: a.evidence_observed_on),
        Column(_("Photo"), lambda a: bool(a.evidence_photo)),
        Column(_("Latitude of the photo"), lambda a: a.evidence_latitude),
        Column(_("Longitude of the photo"), lambda a: a.evidence_longitude),
        Column(_("Reported by"), lambda a: _name(a.reported_by)),
        Column(_("Verified on"), lambda a: a.verified_on),
        Column(_("Verified by"), lambda a: _name(a.verified_by)),
        Column(_("Note"), lambda a: a.note),
    ]


def profile_columns(user) -> list[Column]:
    return [
        *_record_columns(),
        Column(_("Assessment date"), lambda p: p.assessment_date),
        Column(_("Status"), lambda p: p.get_status_display()),
        Column(_("Prepared on"), lambda p: p.prepared_on),
        Column(_("Validated on"), lambda p: p.validated_on),
        Column(_("Validated by"), lambda p: p.validated_by.get_display_name() if p.validated_by_id else ""),
        Column(_("Baseline"), lambda p: p.baseline),
        Column(_("Climate risks"), lambda p: p.climate_risks),
        Column(_("Opportunities"), lambda p: p.opportunities),
    ]


def reading_columns(user) -> list[Column]:
    return [
        *_record_columns(),
        Column(_("KPI code"), lambda r: r.kpi.code),
        Column(_("KPI"), lambda r: r.kpi.name),
        Column(_("Unit"), lambda r: r.kpi.unit),
        Column(_("Month"), lambda r: r.period.strftime("%Y-%m")),
        Column(_("Value"), lambda r: r.value),
        Column(_("Baseline"), lambda r: r.is_baseline),
        Column(_("Source"), lambda r: r.get_source_display()),
    ]


def facility_columns(user) -> list[Column]:
    return [
        Column(_("PO"), lambda f: f.partner_organization.code),
        Column(_("Sub-project"), lambda f: f.sub_project.agreement_number),
        Column(_("Name"), lambda f: f.name),
        Column(_("Kind"), lambda f: f.get_kind_display()),
        Column(_("Sub-sector"), lambda f: f.sub_sector.name),
        Column(_("District"), lambda f: f.district.name),
        Column(_("Upazila"), lambda f: f.upazila.name if f.upazila_id else ""),
        Column(_("Status"), lambda f: f.get_status_display()),
        Column(_("Opened on"), lambda f: f.opened_on),
        Column(_("Operation confirmed on"), lambda f: f.operational_confirmed_on),
        Column(_("Operation confirmed by"), lambda f: _name(f.operational_confirmed_by)),
        Column(_("MEs served"), lambda f: getattr(f, "served_count", "")),
        Column(_("Latitude"), lambda f: f.latitude),
        Column(_("Longitude"), lambda f: f.longitude),
    ]


def cluster_columns(user) -> list[Column]:
    return [
        Column(_("Name"), lambda c: c.name),
        Column(_("Sub-sector"), lambda c: c.sub_sector.name),
        Column(_("District"), lambda c: c.district.name),
        Column(_("Centre latitude"), lambda c: c.centre_latitude),
        Column(_("Centre longitude"), lambda c: c.centre_longitude),
        Column(_("Members"), lambda c: getattr(c, "member_count", "")),
    ]


def practice_columns(user) -> list[Column]:
    return [
        Column(_("Code"), lambda p: p.code),
        Column(_("Name"), lambda p: p.name),
        Column(_("Category"), lambda p: p.get_category_display()),
        Column(
            _("Applicable sub-sectors"),
            lambda p: ", ".join(s.name for s in p.applicable_sub_sectors.all()) or _("all"),
        ),
        Column(_("Active"), lambda p: p.is_active),
        Column(_("Description"), lambda p: p.description),
    ]


def training_module_columns(user) -> list[Column]:
    return [
        Column(_("Code"), lambda m: m.code),
        Column(_("Name"), lambda m: m.name),
        Column(_("Climate vulnerability"), lambda m: m.climate_vulnerability),
        Column(_("Active"), lambda m: m.is_active),
        Column(_("Sessions"), lambda m: getattr(m, "session_count", "")),
        Column(_("What it covers"), lambda m: m.description),
    ]


def kpi_columns(user) -> list[Column]:
    return [
        Column(_("Code"), lambda k: k.code),
        Column(_("Name"), lambda k: k.name),
        Column(_("Unit"), lambda k: k.unit),
        Column(_("Category"), lambda k: k.get_category_display()),
        Column(_("Direction"), lambda k: k.get_direction_display()),
        Column(_("Lowest plausible"), lambda k: k.min_value),
        Column(_("Highest plausible"), lambda k: k.max_value),
        Column(_("Totals across MEs are meaningful"), lambda k: k.adds_up),
        Column(_("Emission factor (kg CO2e per unit)"), lambda k: k.co2e_kg_per_unit),
        Column(_("Source of the emission factor"), lambda k: k.co2e_factor_source),
    ]


def duplicate_columns(user) -> list[Column]:
    def side(attr: str, field: str):
        return lambda d: getattr(getattr(d, attr), field)

    return [
        Column(_("Found at"), lambda d: d.found_at),
        Column(_("Status"), lambda d: d.get_status_display()),
        Column(_("Reasons"), lambda d: "; ".join(d.reasons)),
        Column(_("PO"), lambda d: d.enterprise.partner_organization.code),
        Column(_("ME code"), side("enterprise", "po_code")),
        Column(_("Enterprise name"), side("enterprise", "name")),
        Column(_("Owner name"), side("enterprise", "owner_name")),
        Column(_("Phone"), side("enterprise", "phone")),
        Column(_("Matches PO"), lambda d: d.matched_enterprise.partner_organization.code),
        Column(_("Matches ME code"), side("matched_enterprise", "po_code")),
        Column(_("Matches name"), side("matched_enterprise", "name")),
        Column(_("Matches owner"), side("matched_enterprise", "owner_name")),
        Column(_("Matches phone"), side("matched_enterprise", "phone")),
        Column(_("Resolved at"), lambda d: d.resolved_at),
    ]
