"""The kinds of spreadsheet a PO can import, one class each: columns, stable key, lookups.

Stable keys (re-importing a row updates that record, never duplicates it):
- enterprises: the PO's ME code (`po_code`);
- financial supports: ME code + type + disbursement date;
- trainings: the PO's session code; attendances: session code + ME code;
- adoptions: ME code + practice code; KPI readings: ME code + KPI code + month;
- facilities: sub-project + facility name.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.models import District, Division, SubSector, Upazila
from core.numbers import group
from enterprises import duplicates, services
from enterprises.imports.base import (
    CHUNK_SIZE,
    Column,
    ImportAborted,
    Importer,
    ImportReport,
    Planned,
    RowProblems,
)
from enterprises.imports.files import RawRow
from enterprises.lifecycles import status_action
from enterprises.models import (
    GENDER_SYNONYMS,
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FacilityKind,
    FacilityStatus,
    FinancialSupport,
    Gender,
    Kpi,
    KpiReading,
    ReadingSource,
    RecpPractice,
    SupportKind,
    TrainingModule,
    TrainingSession,
)
from enterprises.validation import (
    normalise_phone,
    parse_bool,
    parse_choice,
    parse_date,
    parse_decimal,
    parse_int,
    parse_month,
)
from subprojects.models import Financier, SubProject, Transition

GPS_PLACES = Decimal("0.000001")


class GpsColumns:
    """GPS cells in decimal degrees, for any importer (enterprises, facilities, adoptions)."""

    def gps(self, row: RawRow, problems: RowProblems, column: str) -> Decimal | None:
        value = self.convert(problems, column, parse_decimal, row.cells.get(column), column)
        # Phones give 7+ decimals; 6 places are 0.1 m, more than enough.
        return value.quantize(GPS_PLACES, rounding=ROUND_HALF_UP) if value is not None else None


class ReferenceLookups(GpsColumns):
    """Reference data by code, P-code or name (case-insensitive), loaded by `prepare()`."""

    def load_reference(self) -> None:
        self.sub_projects = {
            sp.agreement_number.casefold(): sp
            for sp in SubProject.objects.filter(partner_organization=self.po).select_related("sector")
        }
        self.sub_sectors: dict[str, SubSector] = {}
        for sub in SubSector.objects.select_related("sector"):
            self.sub_sectors[sub.code.casefold()] = sub
            self.sub_sectors.setdefault(sub.name.casefold(), sub)
        self.divisions: dict[str, Division] = {}
        for division in Division.objects.all():
            self.divisions[division.pcode.casefold()] = division
            self.divisions[division.name.casefold()] = division
        self.districts: dict[str, District] = {}
        for district in District.objects.select_related("division"):
            self.districts[district.pcode.casefold()] = district
            self.districts[district.name.casefold()] = district
        self.upazilas_by_pcode: dict[str, Upazila] = {}
        self.upazilas_by_name: dict[tuple[int, str], Upazila] = {}
        for upazila in Upazila.objects.all():
            self.upazilas_by_pcode[upazila.pcode.casefold()] = upazila
            self.upazilas_by_name[(upazila.district_id, upazila.name.casefold())] = upazila

    def reference_lookups_state(self) -> Hashable:
        """What of the loaded reference data a row's verdict can depend on (names and codes that
        find it, the sector a sub-sector must share, the area climate flags, a sub-project's status)."""
        return (
            frozenset(
                (sp.pk, sp.agreement_number, sp.status, sp.sector_id, sp.partner_organization_id)
                for sp in self.sub_projects.values()
            ),
            frozenset((s.pk, s.code, s.name, s.sector_id) for s in self.sub_sectors.values()),
            frozenset((d.pk, d.pcode, d.name) for d in self.divisions.values()),
            frozenset(
                (d.pk, d.pcode, d.name, d.division_id, d.climate_vulnerable) for d in self.districts.values()
            ),
            frozenset(
                (u.pk, u.pcode, u.name, u.district_id, u.climate_vulnerable)
                for u in self.upazilas_by_pcode.values()
            ),
        )

    def sub_project(
        self, row: RawRow, problems: RowProblems, column: str = "sub_project"
    ) -> SubProject | None:
        text = self.required_text(row, column, problems)
        if not text:
            return None
        found = self.sub_projects.get(text.casefold())
        if found is None:
            problems.add(
                column,
                _("%(value)s is not a sub-project of your PO (use its agreement number).") % {"value": text},
            )
        return found

    def sub_sector(self, row: RawRow, problems: RowProblems, column: str = "sub_sector") -> SubSector | None:
        text = self.required_text(row, column, problems)
        if not text:
            return None
        found = self.sub_sectors.get(text.casefold())
        if found is None:
            problems.add(
                column,
                _("“%(value)s” is not a sub-sector code or name (see the template's lists).")
                % {"value": text},
            )
        return found

    def division(self, row: RawRow, problems: RowProblems) -> Division | None:
        text = self.text(row, "division")
        if not text:
            return None
        found = self.divisions.get(text.casefold())
        if found is None:
            problems.add("division", _("“%(value)s” is not a division.") % {"value": text})
        return found

    def district(self, row: RawRow, problems: RowProblems, required: bool = True) -> District | None:
        text = self.required_text(row, "district", problems) if required else self.text(row, "district")
        if not text:
            return None
        found = self.districts.get(text.casefold())
        if found is None:
            problems.add("district", _("“%(value)s” is not a district of Bangladesh.") % {"value": text})
        return found

    def upazila(
        self, row: RawRow, problems: RowProblems, district: District | None, required: bool = True
    ) -> Upazila | None:
        text = self.required_text(row, "upazila", problems) if required else self.text(row, "upazila")
        if not text:
            return None
        found = self.upazilas_by_pcode.get(text.casefold())
        if found is None and district is not None:
            found = self.upazilas_by_name.get((district.pk, text.casefold()))
        if found is None:
            where = district.name if district else _("the district")
            problems.add(
                "upazila",
                _("“%(value)s” is not an upazila of %(district)s.") % {"value": text, "district": where},
            )
        return found


class EnterpriseCodes:
    """Field records name their enterprise by the PO's ME code; one query per chunk."""

    def enterprise_codes(self, rows: list[RawRow]) -> set[str]:
        return {self.text(row, "enterprise_code") for row in rows}

    def lookup_chunk(self, rows: list[RawRow]) -> None:
        self.enterprises = {
            me.po_code: me
            for me in Enterprise.objects.filter(
                partner_organization=self.po, po_code__in=self.enterprise_codes(rows) - {""}
            ).select_related("sub_project")
        }

    def enterprise_by_code(self, code: str, problems: RowProblems, column: str) -> Enterprise | None:
        found = self.enterprises.get(code)
        if found is None:
            problems.add(column, _("Your PO has no enterprise with the ME code %(code)s.") % {"code": code})
        return found

    def enterprise(self, row: RawRow, problems: RowProblems) -> Enterprise | None:
        code = self.required_text(row, "enterprise_code", problems)
        return self.enterprise_by_code(code, problems, "enterprise_code") if code else None


# --- Enterprises ----------------------------------------------------------------------------------


class EnterpriseImporter(ReferenceLookups, Importer):
    kind = "enterprises"
    label = _lazy("Enterprises")
    model = Enterprise
    with_history = True
    columns = (
        Column(
            "po_code",
            _lazy(
                "Your PO's code for the enterprise, unique in your PO. "
                "Importing a code again updates that enterprise."
            ),
            True,
            "ME-0001",
        ),
        Column(
            "sub_project",
            _lazy("Agreement number of one of your PO's sub-projects."),
            True,
            "PKSF/SMART/SP/0001",
        ),
        Column("name", _lazy("Name of the enterprise."), True, "Rahima Shoe Works"),
        Column("owner_name", _lazy("Name of the owner."), True, "Rahima Begum"),
        Column("owner_gender", _lazy("female, male or third gender."), True, "female"),
        Column(
            "phone",
            _lazy("Mobile number, e.g. 01712345678 (stored as +8801712345678)."),
            False,
            "01712345678",
        ),
        Column(
            "is_formal",
            _lazy("yes if the enterprise has a trade licence, otherwise no (empty means no)."),
            False,
            "yes",
        ),
        Column(
            "trade_licence_number",
            _lazy("Required for a formal enterprise; empty for an informal one."),
            False,
            "BHR/2019/004512",
        ),
        Column("sub_sector", _lazy("Sub-sector code or name (see the lists)."), True, "leather-products"),
        Column(
            "division",
            _lazy("Division name or P-code; may stay empty (taken from the district)."),
            False,
            "Dhaka",
        ),
        Column("district", _lazy("District name or P-code."), True, "Kishoreganj"),
        Column("upazila", _lazy("Upazila name (in that district) or P-code."), True, "Bhairab"),
        Column("latitude", _lazy("GPS latitude in decimal degrees (optional)."), False, "24.052400"),
        Column("longitude", _lazy("GPS longitude in decimal degrees (optional)."), False, "90.976400"),
        Column(
            "climate_vulnerable_override",
            _lazy("Empty to follow the area's climate flag; yes or no to override it."),
            False,
            "",
        ),
        Column("self_employed", _lazy("Owner and family members working in it (empty means 1)."), False, "1"),
        Column("wage_employed_male", _lazy("Men employed for a wage (empty means 0)."), False, "2"),
        Column("wage_employed_female", _lazy("Women employed for a wage (empty means 0)."), False, "1"),
        Column("year_started", _lazy("Year the enterprise started (optional)."), False, "2016"),
        Column(
            "registered_on",
            _lazy("Date the enterprise joined the sub-project: YYYY-MM-DD or DD/MM/YYYY."),
            True,
            "2024-08-15",
        ),
    )
    key_fields = ("po_code",)
    derived_fields = ("name_key", "trade_licence_key", "climate_vulnerable")
    keeps_checked_rows = True
    copy_creates = True

    def prepare(self) -> None:
        self.load_reference()

    def forget(self) -> None:
        self._stored_at_check: dict[str, tuple[int, Any]] = {}
        self._file_codes: list[str] = []

    def reference_state(self) -> Hashable:
        return self.reference_lookups_state()

    def remember(self, plans: list[Planned]) -> None:
        # Every key of the file (a code stored meanwhile turns a create into an update), and the
        # version of each stored enterprise it matched (the database moves updated_at on any update).
        for plan in plans:
            self._file_codes.append(plan.key[0])
            if plan.action != "create":
                self._stored_at_check[plan.key[0]] = (plan.instance.pk, plan.instance.updated_at)

    def remembered_state(self) -> Hashable:
        return self._stored_at_check

    def stored_state(self, plans: list[Planned]) -> Hashable:
        codes = self._file_codes
        found: dict[str, tuple[int, Any]] = {}
        for start in range(0, len(codes), CHUNK_SIZE):
            rows = self.existing_queryset().filter(po_code__in=codes[start : start + CHUNK_SIZE])
            for code, pk, updated_at in rows.values_list("po_code", "pk", "updated_at"):
                found[code] = (pk, updated_at)
        return found

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        district = self.district(row, problems)
        division = self.division(row, problems) or (district.division if district else None)
        return {
            "po_code": self.required_text(row, "po_code", problems, max_length=40),
            "sub_project": self.sub_project(row, problems),
            "name": self.required_text(row, "name", problems),
            "owner_name": self.required_text(row, "owner_name", problems),
            "owner_gender": self.convert(
                problems,
                "owner_gender",
                parse_choice,
                row.cells.get("owner_gender"),
                Gender.choices,
                GENDER_SYNONYMS,
                required=True,
            ),
            "phone": self.convert(problems, "phone", normalise_phone, row.cells.get("phone")) or "",
            "is_formal": bool(
                self.convert(problems, "is_formal", parse_bool, row.cells.get("is_formal"), "is_formal")
            ),
            "trade_licence_number": self.text(row, "trade_licence_number"),
            "sub_sector": self.sub_sector(row, problems),
            "division": division,
            "district": district,
            "upazila": self.upazila(row, problems, district),
            "latitude": self.gps(row, problems, "latitude"),
            "longitude": self.gps(row, problems, "longitude"),
            "climate_vulnerable_override": self.convert(
                problems,
                "climate_vulnerable_override",
                parse_bool,
                row.cells.get("climate_vulnerable_override"),
                "climate_vulnerable_override",
            ),
            "self_employed": self._count_cell(row, problems, "self_employed", 1),
            "wage_employed_male": self._count_cell(row, problems, "wage_employed_male", 0),
            "wage_employed_female": self._count_cell(row, problems, "wage_employed_female", 0),
            "year_started": self.convert(
                problems, "year_started", parse_int, row.cells.get("year_started"), "year_started"
            ),
            "registered_on": self.convert(
                problems, "registered_on", parse_date, row.cells.get("registered_on"), required=True
            ),
        }

    def _count_cell(self, row: RawRow, problems: RowProblems, column: str, default: int) -> int:
        value = self.convert(problems, column, parse_int, row.cells.get(column), column)
        if value is not None and value < 0:
            problems.add(column, _("A number of people cannot be negative."))
        return default if value is None else value

    def existing_queryset(self) -> QuerySet[Enterprise]:
        return Enterprise.objects.filter(partner_organization=self.po)

    def new_instance(self, values: dict[str, Any]) -> Enterprise:
        return Enterprise(partner_organization=self.po, created_by=self.user, **values)

    def prepare_instance(self, instance: Enterprise) -> None:
        instance.refresh_derived_fields()

    def describe(self, values: dict[str, Any]) -> str:
        return f"{values['po_code']} · {values['name']}"

    def after_check(self, plans: list[Planned], report: ImportReport) -> None:
        """Tell the PO before it commits which rows look like an enterprise already registered."""
        candidates = [plan for plan in plans if plan.action != "unchanged"]
        if not candidates:
            return
        keys = [
            duplicates.MatchKeys(
                pk=plan.instance.pk,
                partner_organization_id=self.po.pk,
                phone=plan.instance.phone,
                trade_licence_key=plan.instance.trade_licence_key,
                upazila_id=plan.instance.upazila_id,
                name_key=plan.instance.name_key,
            )
            for plan in candidates
        ]
        bucket = report.preview.setdefault("duplicates", [])
        for plan, result in zip(candidates, duplicates.find_matches(keys), strict=True):
            if not result.matches:
                continue
            report.duplicates += 1
            if len(bucket) >= 20:
                continue
            own = sorted(m.pk for m in result.matches.values() if m.partner_organization_id == self.po.pk)
            bucket.append(
                {
                    "row": plan.number,
                    "record": self.describe(plan.values),
                    # Another PO's match is only ever a yes/no: never which ME or whose.
                    "other_po": any(m.partner_organization_id != self.po.pk for m in result.matches.values()),
                    "own_codes": list(
                        Enterprise.objects.filter(pk__in=own).values_list("po_code", flat=True)[:5]
                    )
                    if own
                    else [],
                }
            )

    def after_write(self, created: list, updated: list, report: ImportReport) -> None:
        ids = [me.pk for me in created] + [me.pk for me in updated]
        report.duplicates += duplicates.flag_duplicates(ids)
        duplicates.recheck_after_commit(ids)


# --- Financial supports ---------------------------------------------------------------------------

# Besides the codes and the English labels ("World Bank", "PKSF", "PO contribution").
FINANCIER_SYNONYMS = {"wb": Financier.WORLD_BANK, "po own": Financier.PO, "po's own": Financier.PO}


class FinancialSupportImporter(EnterpriseCodes, Importer):
    kind = "financial-supports"
    label = _lazy("Financial supports")
    model = FinancialSupport
    with_history = True
    columns = (
        Column(
            "enterprise_code",
            _lazy("The enterprise's ME code in your PO."),
            True,
            "ME-0001",
            field="enterprise",
        ),
        Column("kind", _lazy("loan or grant."), True, "loan"),
        Column("amount", _lazy("Amount in BDT, e.g. 150000 or 1,50,000."), True, "150000"),
        Column(
            "financier",
            _lazy("Whose money: world_bank, pksf or po (or World Bank, PKSF, PO contribution)."),
            True,
            "world_bank",
        ),
        Column(
            "disbursed_on",
            _lazy(
                "Disbursement date: YYYY-MM-DD or DD/MM/YYYY. Disbursements before the programme start are "
                "kept but not counted as project financing."
            ),
            True,
            "2024-09-01",
        ),
        Column("reference", _lazy("Loan account or voucher number (optional)."), False, "LN-2024-0457"),
    )
    key_fields = ("enterprise", "kind", "disbursed_on")

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        return {
            "enterprise": self.enterprise(row, problems),
            "kind": self.convert(
                problems, "kind", parse_choice, row.cells.get("kind"), SupportKind.choices, required=True
            ),
            "amount": self.convert(
                problems, "amount", parse_decimal, row.cells.get("amount"), "amount", required=True
            ),
            "financier": self.convert(
                problems,
                "financier",
                parse_choice,
                row.cells.get("financier"),
                Financier.choices,
                FINANCIER_SYNONYMS,
                required=True,
            ),
            "disbursed_on": self.convert(
                problems, "disbursed_on", parse_date, row.cells.get("disbursed_on"), required=True
            ),
            "reference": self.text(row, "reference")[:60],
        }

    def lookup_chunk(self, rows: list[RawRow]) -> None:
        super().lookup_chunk(rows)
        # MEs whose latest E&S screening failed get no new disbursement: one query per chunk.
        from safeguards.screenings import financing_refusals

        self.screening_refusals = financing_refusals(me.pk for me in self.enterprises.values())

    def existing(self, keys: list[Hashable]) -> dict[Hashable, FinancialSupport]:
        # A row updating a stored support is checked as the page and API check it: an ME barred by a
        # failed screening may not have the amount (the key's type and date cannot change here) of
        # a recorded support changed. The stored terms are kept from this one query, so the check
        # needs no query per row.
        records = super().existing(keys)
        for record in records.values():
            record._stored_terms = {name: getattr(record, name) for name in FinancialSupport.SCREENED_TERMS}
            record._screening_refusal = self.screening_refusals.get(record.enterprise_id)
        return records

    def new_instance(self, values: dict[str, Any]) -> FinancialSupport:
        support = FinancialSupport(created_by=self.user, **values)
        enterprise = values.get("enterprise")
        support._screening_refusal = self.screening_refusals.get(enterprise.pk) if enterprise else None
        return support

    def describe(self, values: dict[str, Any]) -> str:
        me, amount = values["enterprise"].po_code, values["amount"]
        return f"{me} · {values['kind']} {group(amount)} BDT · {values['disbursed_on']}"


# --- Trainings and attendance ---------------------------------------------------------------------


class TrainingImporter(ReferenceLookups, Importer):
    kind = "trainings"
    label = _lazy("Training sessions")
    model = TrainingSession
    columns = (
        Column(
            "session_code",
            _lazy("Your PO's code for the session, unique in your PO."),
            True,
            "TR-2024-015",
            field="po_code",
        ),
        Column(
            "sub_project",
            _lazy("Agreement number of one of your PO's sub-projects."),
            True,
            "PKSF/SMART/SP/0001",
        ),
        Column(
            "module",
            _lazy("Code of the training module, from the PMU's catalogue (see the lists)."),
            True,
            "CV-01",
        ),
        Column(
            "topic",
            _lazy("Title or notes: how your PO names the session (optional)."),
            False,
            "Climate risks for footwear workshops",
        ),
        Column("held_on", _lazy("Date: YYYY-MM-DD or DD/MM/YYYY."), True, "2024-10-12"),
        Column("place", _lazy("Where it was held."), True, "Bhairab CSF training room"),
        Column("district", _lazy("District name or P-code (optional)."), False, "Kishoreganj"),
        Column("facilitator", _lazy("Facilitator (optional)."), False, "Md. Saiful Islam"),
    )
    key_fields = ("po_code",)

    def prepare(self) -> None:
        self.load_reference()
        self.modules = {module.code.casefold(): module for module in TrainingModule.objects.all()}

    def module(self, row: RawRow, problems: RowProblems) -> TrainingModule | None:
        """Unknown codes here; a module no longer offered is refused by the model's rules."""
        code = self.required_text(row, "module", problems)
        found = self.modules.get(code.casefold()) if code else None
        if code and found is None:
            problems.add(
                "module",
                _("“%(code)s” is not a training module code (see the template's lists).") % {"code": code},
            )
        return found

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        return {
            "po_code": self.required_text(row, "session_code", problems, max_length=40),
            "sub_project": self.sub_project(row, problems),
            "module": self.module(row, problems),
            "topic": self.text(row, "topic")[:200],
            "held_on": self.convert(problems, "held_on", parse_date, row.cells.get("held_on"), required=True),
            "place": self.required_text(row, "place", problems),
            "district": self.district(row, problems, required=False),
            "facilitator": self.text(row, "facilitator"),
        }

    def existing_queryset(self) -> QuerySet[TrainingSession]:
        sessions = TrainingSession.objects.filter(partner_organization=self.po)
        # While writing (inside the import's transaction), the sessions are locked as in the services:
        # a mapping by the PMU cannot slip in between the check of a row and its writing.
        return sessions.select_for_update() if transaction.get_connection().in_atomic_block else sessions

    def existing(self, keys: list[Hashable]) -> dict[Hashable, TrainingSession]:
        found = super().existing(keys)
        self.pmu_mapped = services.sessions_mapped_by_pmu(session.pk for session in found.values())
        return found

    def new_instance(self, values: dict[str, Any]) -> TrainingSession:
        return TrainingSession(partner_organization=self.po, created_by=self.user, **values)

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        """A module the PMU mapped is not changed by the PO (as on the pages and in the API)."""
        if plan.action == "update" and "module" in plan.before and plan.instance.pk in self.pmu_mapped:
            problems.add("module", services.module_locked_message(plan.instance))

    def write(self, plans: list[Planned], report: ImportReport) -> None:
        # Sessions that had a module and get another: kept in the audit trail, as on the pages.
        self._module_changes = [
            (plan.instance, plan.before["module"])
            for plan in plans
            if plan.action == "update" and plan.before.get("module") is not None
        ]
        super().write(plans, report)

    def after_write(self, created: list, updated: list, report: ImportReport) -> None:
        if not self._module_changes:
            return
        codes = {module.pk: module.code for module in self.modules.values()}
        Transition.objects.bulk_create(
            Transition(
                subject=session,
                action=services.MODULE_CHANGED,
                from_state=codes[previous_id],
                to_state=codes[session.module_id],
                actor=self.user,
            )
            for session, previous_id in self._module_changes
        )

    def describe(self, values: dict[str, Any]) -> str:
        module = values["module"].code if values.get("module") else "?"
        return f"{values['po_code']} · {module} · {values['topic'] or '—'} · {values['held_on']}"


class AttendanceImporter(EnterpriseCodes, Importer):
    kind = "attendances"
    label = _lazy("Training attendance")
    model = Attendance
    columns = (
        Column(
            "session_code",
            _lazy("The session's code in your PO (import the sessions first)."),
            True,
            "TR-2024-015",
            field="session",
        ),
        Column(
            "enterprise_code",
            _lazy("The enterprise's ME code in your PO."),
            True,
            "ME-0001",
            field="enterprise",
        ),
        Column("pre_test_score", _lazy("Score before the training, 0 to 100 (optional)."), False, "45"),
        Column("post_test_score", _lazy("Score after the training, 0 to 100 (optional)."), False, "70"),
    )
    key_fields = ("session", "enterprise")

    def lookup_chunk(self, rows: list[RawRow]) -> None:
        super().lookup_chunk(rows)
        codes = {self.text(row, "session_code") for row in rows} - {""}
        self.sessions = {
            s.po_code: s
            for s in TrainingSession.objects.filter(partner_organization=self.po, po_code__in=codes)
        }

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        code = self.required_text(row, "session_code", problems)
        session = self.sessions.get(code) if code else None
        if code and session is None:
            problems.add(
                "session_code", _("Your PO has no training session with the code %(code)s.") % {"code": code}
            )
        return {
            "session": session,
            "enterprise": self.enterprise(row, problems),
            "pre_test_score": self.convert(
                problems, "pre_test_score", parse_decimal, row.cells.get("pre_test_score"), "score"
            ),
            "post_test_score": self.convert(
                problems, "post_test_score", parse_decimal, row.cells.get("post_test_score"), "score"
            ),
        }

    def new_instance(self, values: dict[str, Any]) -> Attendance:
        return Attendance(**values)

    def describe(self, values: dict[str, Any]) -> str:
        return f"{values['session'].po_code} · {values['enterprise'].po_code}"


# --- RECP adoptions -------------------------------------------------------------------------------


class AdoptionImporter(GpsColumns, EnterpriseCodes, Importer):
    kind = "adoptions"
    label = _lazy("RECP adoptions")
    model = Adoption
    columns = (
        Column(
            "enterprise_code",
            _lazy("The enterprise's ME code in your PO."),
            True,
            "ME-0001",
            field="enterprise",
        ),
        Column(
            "practice_code",
            _lazy("Code of the RECP practice (see the lists)."),
            True,
            "EE-01",
            field="practice",
        ),
        Column("adopted_on", _lazy("Date the practice was adopted."), True, "2024-11-05"),
        Column(
            "seen_in_use_on",
            _lazy(
                "Date your officer saw the practice in use (optional). The PMU or a verifier verifies the "
                "adoption; your PO does not."
            ),
            False,
            "2024-12-10",
            field="evidence_observed_on",
        ),
        Column(
            "latitude",
            _lazy("GPS latitude where it was seen in use (optional)."),
            False,
            "24.052400",
            field="evidence_latitude",
        ),
        Column(
            "longitude",
            _lazy("GPS longitude where it was seen in use (optional)."),
            False,
            "90.976400",
            field="evidence_longitude",
        ),
        Column("note", _lazy("Note (optional)."), False, ""),
    )
    key_fields = ("enterprise", "practice")

    def prepare(self) -> None:
        self.practices = {
            p.code.casefold(): p for p in RecpPractice.objects.prefetch_related("applicable_sub_sectors")
        }

    def check_header(self, header: list[str], raw_header: list[str], report: ImportReport) -> bool:
        """A file that still carries a verification column is refused as a whole: the PO would
        believe its dates recorded as verifications."""
        refused = [
            (name, raw)
            for name, raw in zip(header, raw_header, strict=True)
            if name in services.VERIFICATION_FIELDS
        ]
        for _name, raw in refused:
            report.add_error(1, raw, services.verification_not_by_po(raw))
        kept = [
            (name, raw)
            for name, raw in zip(header, raw_header, strict=True)
            if name not in services.VERIFICATION_FIELDS
        ]
        super().check_header([name for name, _raw in kept], [raw for _name, raw in kept], report)
        return report.ok

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        code = self.required_text(row, "practice_code", problems)
        practice = self.practices.get(code.casefold()) if code else None
        if code and practice is None:
            problems.add("practice_code", _("“%(code)s” is not a RECP practice code.") % {"code": code})
        return {
            "enterprise": self.enterprise(row, problems),
            "practice": practice,
            "adopted_on": self.convert(
                problems, "adopted_on", parse_date, row.cells.get("adopted_on"), required=True
            ),
            "evidence_observed_on": self.convert(
                problems, "seen_in_use_on", parse_date, row.cells.get("seen_in_use_on")
            ),
            "evidence_latitude": self.gps(row, problems, "latitude"),
            "evidence_longitude": self.gps(row, problems, "longitude"),
            "note": self.text(row, "note")[:250],
        }

    def new_instance(self, values: dict[str, Any]) -> Adoption:
        # The importing PO staff member reports it; nobody has verified it yet.
        return Adoption(reported_by=self.user, **values)

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        if plan.action == "update" and plan.instance.is_verified:
            column = self._column_for_field(next(iter(plan.before)))
            problems.add(column, _("This adoption is already verified: it cannot be changed by an import."))

    def describe(self, values: dict[str, Any]) -> str:
        return f"{values['enterprise'].po_code} · {values['practice'].code}"


# --- KPI readings ---------------------------------------------------------------------------------


SOURCE_SYNONYMS = {
    "metered": ReadingSource.METER,
    "measured": ReadingSource.MEASUREMENT,
    "estimated": ReadingSource.ESTIMATE,
}


class KpiReadingImporter(EnterpriseCodes, Importer):
    kind = "kpi-readings"
    label = _lazy("KPI readings")
    model = KpiReading
    columns = (
        Column(
            "enterprise_code",
            _lazy("The enterprise's ME code in your PO."),
            True,
            "ME-0001",
            field="enterprise",
        ),
        Column("kpi_code", _lazy("Code of the KPI (see the lists)."), True, "ELECTRICITY", field="kpi"),
        Column(
            "period",
            _lazy("The month the value covers: YYYY-MM (e.g. 2024-05)."),
            True,
            "2024-05",
            field="period",
        ),
        Column("value", _lazy("The month's value, in the KPI's unit."), True, "420"),
        Column(
            "is_baseline",
            _lazy("yes for the baseline reading (one per KPI and enterprise), otherwise no."),
            False,
            "no",
        ),
        Column("source", _lazy("meter, measurement or estimate."), True, "meter"),
    )
    key_fields = ("enterprise", "kpi", "period")
    keeps_checked_rows = True
    copy_creates = True

    def prepare(self) -> None:
        self.kpis = {kpi.code.casefold(): kpi for kpi in Kpi.objects.all()}
        self.file_baselines: dict[tuple[int, int], int] = {}

    def forget(self) -> None:
        self._enterprises_at_check: dict[int, tuple] = {}
        self._readings_at_check: dict[int, Any] = {}
        self._pairs: set[tuple[int, int]] = set()

    def reference_state(self) -> Hashable:
        return frozenset(
            (k.pk, k.code, k.is_active, k.min_value, k.max_value, k.unit, k.name) for k in self.kpis.values()
        )

    def _enterprise_version(self, me: Enterprise) -> tuple:
        # A reading's check reads its enterprise's sub-project status (check_enterprise_open).
        return (me.pk, me.po_code, me.sub_project_id, me.sub_project.status)

    def remember(self, plans: list[Planned]) -> None:
        # The enterprises the rows name, and every stored reading of the rows' (enterprise, KPI)
        # pairs, whatever its month: the one-baseline rule reads them all.
        pairs = set()
        for plan in plans:
            me = plan.values["enterprise"]
            self._enterprises_at_check[me.pk] = self._enterprise_version(me)
            pairs.add((me.pk, plan.values["kpi"].pk))
        self._pairs |= pairs
        for pair, readings in self._stored_by_pair.items():
            if pair in pairs:
                self._readings_at_check.update(readings)

    def remembered_state(self) -> Hashable:
        return (self._enterprises_at_check, self._readings_at_check)

    def stored_state(self, plans: list[Planned]) -> Hashable:
        ids = sorted(self._enterprises_at_check)
        kpis = {kpi for _me, kpi in self._pairs}
        enterprises: dict[int, tuple] = {}
        readings: dict[int, Any] = {}
        for start in range(0, len(ids), CHUNK_SIZE):
            chunk = ids[start : start + CHUNK_SIZE]
            for me in Enterprise.objects.filter(partner_organization=self.po, pk__in=chunk).select_related(
                "sub_project"
            ):
                enterprises[me.pk] = self._enterprise_version(me)
            stored = KpiReading.objects.filter(enterprise_id__in=chunk, kpi_id__in=kpis).values_list(
                "pk", "enterprise_id", "kpi_id", "updated_at"
            )
            for pk, me_id, kpi_id, updated_at in stored:
                if (me_id, kpi_id) in self._pairs:
                    readings[pk] = updated_at
        return (enterprises, readings)

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        code = self.required_text(row, "kpi_code", problems)
        kpi = self.kpis.get(code.casefold()) if code else None
        if code and kpi is None:
            problems.add("kpi_code", _("“%(code)s” is not a KPI code.") % {"code": code})
        elif kpi is not None and not kpi.is_active:
            problems.add("kpi_code", _("The KPI %(code)s is no longer tracked.") % {"code": kpi.code})
        return {
            "enterprise": self.enterprise(row, problems),
            "kpi": kpi,
            "period": self.convert(problems, "period", parse_month, row.cells.get("period"), required=True),
            "value": self.convert(
                problems, "value", parse_decimal, row.cells.get("value"), "value", required=True
            ),
            "is_baseline": bool(
                self.convert(problems, "is_baseline", parse_bool, row.cells.get("is_baseline"), "is_baseline")
            ),
            "source": self.convert(
                problems,
                "source",
                parse_choice,
                row.cells.get("source"),
                ReadingSource.choices,
                SOURCE_SYNONYMS,
                required=True,
            ),
        }

    def existing(self, keys: list[Hashable]) -> dict[Hashable, KpiReading]:
        enterprises = {key[0] for key in keys}
        kpis = {key[1] for key in keys}
        found = {}
        self.db_baselines: dict[tuple[int, int], Any] = {}
        # Versions of the stored readings by pair, for `remember` (a commit's recheck).
        self._stored_by_pair: dict[tuple[int, int], dict[int, Any]] = {}
        for reading in KpiReading.objects.filter(enterprise_id__in=enterprises, kpi_id__in=kpis):
            found[(reading.enterprise_id, reading.kpi_id, reading.period)] = reading
            pair = (reading.enterprise_id, reading.kpi_id)
            self._stored_by_pair.setdefault(pair, {})[reading.pk] = reading.updated_at
            if reading.is_baseline:
                self.db_baselines[(reading.enterprise_id, reading.kpi_id)] = reading.period
        return found

    def new_instance(self, values: dict[str, Any]) -> KpiReading:
        return KpiReading(created_by=self.user, **values)

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        if not plan.values["is_baseline"]:
            return
        pair = (plan.values["enterprise"].pk, plan.values["kpi"].pk)
        first = self.file_baselines.setdefault(pair, plan.number)
        if first != plan.number:
            problems.add(
                "is_baseline",
                _("Row %(row)s already gives the baseline of this KPI for this enterprise.") % {"row": first},
            )
        stored = self.db_baselines.get(pair)
        if stored is not None and stored != plan.values["period"]:
            problems.add(
                "is_baseline",
                _(
                    "This enterprise's baseline for this KPI is already %(month)s; a KPI has one baseline "
                    "(change it on the enterprise's page)."
                )
                % {"month": stored.strftime("%Y-%m")},
            )

    def describe(self, values: dict[str, Any]) -> str:
        return f"{values['enterprise'].po_code} · {values['kpi'].code} · {values['period']:%Y-%m}"


# --- Facilities -----------------------------------------------------------------------------------


KIND_SYNONYMS = {
    "revenue generating": FacilityKind.REVENUE,
    "revenue": FacilityKind.REVENUE,
    "non revenue generating": FacilityKind.NON_REVENUE,
    "non-revenue": FacilityKind.NON_REVENUE,
    "non revenue": FacilityKind.NON_REVENUE,
}


class FacilityImporter(ReferenceLookups, EnterpriseCodes, Importer):
    kind = "facilities"
    label = _lazy("Common service facilities")
    model = CommonServiceFacility
    with_history = True
    columns = (
        Column(
            "sub_project",
            _lazy("Agreement number of one of your PO's sub-projects."),
            True,
            "PKSF/SMART/SP/0001",
        ),
        Column(
            "name", _lazy("Name of the facility, unique in its sub-project."), True, "Bhairab Footwear CSF"
        ),
        Column("kind", _lazy("revenue-generating or non-revenue-generating."), True, "revenue-generating"),
        Column("sub_sector", _lazy("Sub-sector code or name."), True, "leather-products"),
        Column("district", _lazy("District name or P-code."), True, "Kishoreganj"),
        Column("upazila", _lazy("Upazila name or P-code (optional)."), False, "Bhairab"),
        Column("address", _lazy("Address (optional)."), False, "Bhairab Bazar Road"),
        Column("latitude", _lazy("GPS latitude (optional)."), False, "24.052400"),
        Column("longitude", _lazy("GPS longitude (optional)."), False, "90.976400"),
        Column("services", _lazy("Services offered (optional)."), False, "Laser cutting; waste recycling"),
        Column("status", _lazy("planned, under construction or operational."), True, "operational"),
        Column("opened_on", _lazy("Opening date; required when operational."), False, "2025-01-20"),
        Column(
            "mes_served",
            _lazy("ME codes of the enterprises it serves, separated by ; (optional)."),
            False,
            "ME-0001; ME-0002",
        ),
    )
    key_fields = ("sub_project", "name")
    # Cleared when the PO changes the status or the opening date (services.clear_stale_confirmation).
    derived_fields = ("operational_confirmed_by", "operational_confirmed_on")

    def prepare(self) -> None:
        self.load_reference()

    def key_column(self) -> str:
        return "name"

    def _served_codes(self, row: RawRow) -> list[str]:
        codes = (code.strip() for code in self.text(row, "mes_served").split(";"))
        return list(dict.fromkeys(code for code in codes if code))

    def enterprise_codes(self, rows: list[RawRow]) -> set[str]:
        return {code for row in rows for code in self._served_codes(row)}

    def parse(self, row: RawRow, problems: RowProblems) -> dict[str, Any]:
        district = self.district(row, problems)
        served = [self.enterprise_by_code(code, problems, "mes_served") for code in self._served_codes(row)]
        return {
            "sub_project": self.sub_project(row, problems),
            "name": self.required_text(row, "name", problems),
            "kind": self.convert(
                problems,
                "kind",
                parse_choice,
                row.cells.get("kind"),
                FacilityKind.choices,
                KIND_SYNONYMS,
                required=True,
            ),
            "sub_sector": self.sub_sector(row, problems),
            "district": district,
            "upazila": self.upazila(row, problems, district, required=False),
            "address": self.text(row, "address")[:250],
            "latitude": self.gps(row, problems, "latitude"),
            "longitude": self.gps(row, problems, "longitude"),
            "services": self.text(row, "services"),
            "status": self.convert(
                problems,
                "status",
                parse_choice,
                row.cells.get("status"),
                FacilityStatus.choices,
                required=True,
            ),
            "opened_on": self.convert(problems, "opened_on", parse_date, row.cells.get("opened_on")),
            "mes_served": [me for me in served if me is not None],
        }

    def existing_queryset(self) -> QuerySet[CommonServiceFacility]:
        return CommonServiceFacility.objects.prefetch_related("mes_served")

    def new_instance(self, values: dict[str, Any]) -> CommonServiceFacility:
        fields = {k: v for k, v in values.items() if k != "mes_served"}
        return CommonServiceFacility(partner_organization=self.po, created_by=self.user, **fields)

    def plan_chunk(self, rows, seen, report):
        plans = super().plan_chunk(rows, seen, report)
        for plan in plans:
            if plan.action == "update" and plan.before.keys() & {"status", "opened_on"}:
                stored = CommonServiceFacility(
                    status=plan.before.get("status", plan.instance.status),
                    opened_on=plan.before.get("opened_on", plan.instance.opened_on),
                )
                if services.clear_stale_confirmation(plan.instance, stored):
                    plan.changes.append(str(_("operation confirmation cleared: to be confirmed again")))
            if plan.action == "unchanged":
                stored = {me.pk for me in plan.instance.mes_served.all()}
                if stored != {me.pk for me in plan.values["mes_served"]}:
                    plan.action = "update"
                    plan.changes.append("mes_served")
        return plans

    def describe(self, values: dict[str, Any]) -> str:
        return f"{values['name']} ({values['sub_project'].agreement_number})"

    def extra_checks(self, plan: Planned, problems: RowProblems) -> None:
        """A new status is a move of the facility's lifecycle: one the importing user may not take
        is refused in the check already, on the row's status."""
        if plan.action != "update" or "status" not in plan.before:
            return
        try:
            rule = lifecycle.get_rule(
                CommonServiceFacility, status_action(plan.before["status"], plan.values["status"])
            )
        except ActionRefused as exc:
            problems.add("status", str(exc))
            return
        if not lifecycle.may_act(self.user, plan.instance, rule):
            problems.add("status", str(lifecycle.refuse_who(rule, plan.instance)))

    def write_fields(self) -> Iterable[str]:
        # The status is never written in bulk: it moves through the engine (`write`).
        return [name for name in super().write_fields() if name != "status"]

    def write(self, plans: list[Planned], report: ImportReport) -> None:
        """The rows are written in bulk as they are, but for a new status: the facility keeps its
        stored status (and opening date) until the rule leading to the new one is applied, row by
        row, logged with the importing user. A refused move aborts the whole import."""
        self._served = {plan.key: plan.values["mes_served"] for plan in plans}
        moves = []
        for plan in plans:
            if plan.action == "update" and "status" in plan.before:
                facility = plan.instance
                moves.append((plan, facility.status, facility.opened_on))
                facility.status = plan.before["status"]
                facility.opened_on = plan.before.get("opened_on", facility.opened_on)
        super().write(plans, report)
        for plan, status, opened_on in moves:
            try:
                services.move_facility_status(
                    user=self.user,
                    facility=plan.instance,
                    status=status,
                    opened_on=opened_on,
                    comment=_("Spreadsheet import, row %(row)s.") % {"row": plan.number},
                )
            except ActionRefused as exc:
                report.add_error(plan.number, "status", str(exc))
                raise ImportAborted from None

    def after_write(self, created: list, updated: list, report: ImportReport) -> None:
        """The MEs served by the chunk's facilities, all at once (replaced on update)."""
        through = CommonServiceFacility.mes_served.through
        through.objects.filter(commonservicefacility__in=updated).delete()
        through.objects.bulk_create(
            through(commonservicefacility_id=facility.pk, enterprise_id=me.pk)
            for facility in [*created, *updated]
            for me in self._served[facility.sub_project_id, facility.name]
        )


IMPORTERS: dict[str, type[Importer]] = {
    importer.kind: importer
    for importer in (
        EnterpriseImporter,
        FinancialSupportImporter,
        TrainingImporter,
        AttendanceImporter,
        AdoptionImporter,
        KpiReadingImporter,
        FacilityImporter,
    )
}
