"""The lifecycles of field data on the portal's one engine (core.lifecycle): an adoption's
verification, a common service facility's status and a spreadsheet import job's status.

Every move goes through `core.lifecycle.apply()`, which checks who acts (403) and the state (409),
runs the guards and the effect, saves and writes one Transition row (who, when, from, to, comment).

Adoption verification (ADOPTION_RULES, state `Adoption.verification`):

    verify   reported | not_independent → verified    a PMU officer or a verifier belonging to no PO
             guard: the date (default today) is not in the future nor before the adoption
             effect: verified_on, verified_by

Facility status (FACILITY_RULES, state `CommonServiceFacility.status`). PO staff of the facility's PO
report the status on the facility's form, the API or a spreadsheet; any status may follow any other
(as the form has always allowed), each move by the one rule leading there (`status_action`):

    start_construction   planned | operational        → under construction   effect: no opening date
    open                 planned | under construction → operational          guard: opening date given
    replan               under construction | operational → planned          effect: no opening date
    confirm_operational  operational → operational    a PMU officer or a verifier belonging to no PO:
             the facility is seen operating and counts as established from then
             guards: not yet confirmed; the date (default today) not in the future nor before opening
             effect: operational_confirmed_on, operational_confirmed_by

Leaving "operational" clears the opening date and any confirmation. `confirm_operational` is a
self-transition rather than a logged event: it is a decision with a role, a state it needs and
refusals of its own, like any rule, and the table says so. The status rules are also `by_portal`: a
spreadsheet imported from the command line without `--user` is the portal's own doing.

Import jobs (IMPORT_RULES, state `ImportJob.status`): the worker moves a job (`by_portal`, no role);
the PO's own staff ask for the import of a checked file, retry a failed job and cancel one.

    check        pending → validating                   the worker claims the job
    pass_check   validating → validated                 the file has no problem (the report stored)
    find_errors  validating | committing → has errors   problems found (at the check, or found again
                                                        when writing because the data changed)
    commit       validated → committing                 PO staff of the job's PO: import the file
                                                        (follow-up: the worker is queued to write it)
    finish       committing → imported                  the rows are written (the report stored)
    fail         validating | committing → failed       an unexpected error, or the worker died (the
                                                        sweeper, core.jobs); the comment says which
    retry        failed → waiting to start              PO staff of the job's PO: check the file again
                                                        from the start (effect: the last attempt's
                                                        counts, report and failure cleared;
                                                        follow-up: the worker is queued to check it)
    cancel       failed | ready to import | has errors → cancelled
                                                        PO staff of the job's PO: the file will not
                                                        be imported (no rule leads on from cancelled)

`check` is the claim: `apply()` locks the row and checks it is still pending, so of two workers handed
the same job (a task delivered twice) only one checks it; the other is refused and leaves it alone.
The moves that hand the job to the worker (commit, retry) queue it in their own transaction
(core.outbox): the move and the work it calls for are saved together.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Field, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import jobs, lifecycle
from core.errors import ActionRefused
from core.roles import Role
from enterprises.models import (
    Adoption,
    AdoptionVerification,
    CommonServiceFacility,
    FacilityStatus,
    ImportJob,
    ImportStatus,
)
from enterprises.permissions import is_independent_checker
from enterprises.validation import check_action_date, check_not_future, today
from verification.models import VERIFYING_ROLES

PO = {Role.PO_STAFF}
# Decided on the record's own form or endpoint (with its date), never by a bare button.
OWN_FORM = {"button": False, "waits": False}
# Only the portal moves a job: no role may, so no page or API client can.
PORTAL = {"by_portal": True, "button": False, "waits": False}


def outside_any_po(user, obj) -> bool:
    """WHO: a PMU officer or a verifier who belongs to no PO (no PO checks its own results); the
    same check as for a verification check's result (verification.checks)."""
    return is_independent_checker(user)


# --- Adoption verification ------------------------------------------------------------------------


def verification_date_fits(adoption: Adoption, **context) -> None:
    """GUARD: verified on a day not in the future, on or after the adoption."""
    check_action_date(
        context.get("verified_on") or today(),
        what=_("The verification date"),
        not_before=adoption.adopted_on,
        too_early=_("A practice is verified after it is adopted."),
    )


def stamp_verification(adoption: Adoption, **context) -> list[str]:
    """EFFECT: who verified, and on which day (default today)."""
    adoption.verified_on = context.get("verified_on") or today()
    adoption.verified_by = context["_user"]
    return ["verified_on", "verified_by"]


ADOPTION_RULES = [
    lifecycle.rule(
        "verify",
        _lazy("Verified"),
        [AdoptionVerification.REPORTED, AdoptionVerification.NOT_INDEPENDENT],
        AdoptionVerification.VERIFIED,
        VERIFYING_ROLES,
        who="outside_any_po",
        params=("verified_on",),
        guards=("verification_date_fits",),
        effect="stamp_verification",
        **OWN_FORM,
    )
]

ADOPTION_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        Adoption,
        ADOPTION_RULES,
        guards={"verification_date_fits": verification_date_fits},
        effects={"stamp_verification": stamp_verification},
        who={"outside_any_po": outside_any_po},
        state_field="verification",
        # The PO that reported it, the enterprise's (no rule is the PO's own: the owner only names it).
        owner=lambda adoption: (
            adoption.enterprise.partner_organization_id
            if adoption.enterprise_id or Adoption.enterprise.is_cached(adoption)
            else None
        ),
    )
)


# --- Facility status ------------------------------------------------------------------------------


def opening_date_given(facility: CommonServiceFacility, **context) -> None:
    """GUARD: an operational facility has its opening date, not in the future."""
    opened_on: date | None = context.get("opened_on")
    if opened_on is None:
        raise ActionRefused(_("An operational facility needs its opening date."), code="invalid")
    try:
        check_not_future(opened_on, _("The opening date"))
    except ValidationError as exc:
        raise ActionRefused(exc.messages[0], code="invalid") from None


def _clear_confirmation(facility: CommonServiceFacility) -> list[str]:
    facility.operational_confirmed_by = None
    facility.operational_confirmed_on = None
    return ["operational_confirmed_by", "operational_confirmed_on"]


def set_opening_date(facility: CommonServiceFacility, **context) -> list[str]:
    """EFFECT: the facility opened on the date given."""
    facility.opened_on = context["opened_on"]
    # simple_history's author of the edit: an attribute it reads, not one the model declares.
    setattr(facility, "_history_user", context["_user"])  # noqa: B010
    return ["opened_on"]


def leave_operation(facility: CommonServiceFacility, **context) -> list[str]:
    """EFFECT: a facility that is not operational has no opening date, and no confirmation."""
    facility.opened_on = None
    # simple_history's author of the edit: an attribute it reads, not one the model declares.
    setattr(facility, "_history_user", context["_user"])  # noqa: B010
    return ["opened_on", *_clear_confirmation(facility)]


def confirmable(facility: CommonServiceFacility, **context) -> None:
    """GUARD: not confirmed yet; seen operating on a day not in the future, on or after opening."""
    if facility.operational_confirmed_on is not None:
        raise ActionRefused(
            _("This facility was already confirmed operating on %(date)s.")
            % {"date": facility.operational_confirmed_on.isoformat()},
            code="wrong_state",
        )
    if facility.opened_on is None:  # never: an operational facility has its opening date (constraint)
        raise ActionRefused(_("An operational facility needs its opening date."), code="invalid")
    check_action_date(
        context.get("on") or today(),
        what=_("The confirmation date"),
        not_before=facility.opened_on,
        too_early=_("A facility is confirmed operating on or after its opening date."),
    )


def stamp_confirmation(facility: CommonServiceFacility, **context) -> list[str]:
    """EFFECT: who saw the facility operating, and on which day (default today)."""
    facility.operational_confirmed_by = context["_user"]
    facility.operational_confirmed_on = context.get("on") or today()
    # simple_history's author of the edit: an attribute it reads, not one the model declares.
    setattr(facility, "_history_user", context["_user"])  # noqa: B010
    return ["operational_confirmed_by", "operational_confirmed_on"]


# PO staff report their own PO's facility (on its form, the API or a spreadsheet).
PO_REPORTS = {"po_owned": True, "by_portal": True, **OWN_FORM}

FACILITY_RULES = [
    lifecycle.rule(
        "start_construction",
        _lazy("Under construction"),
        [FacilityStatus.PLANNED, FacilityStatus.OPERATIONAL],
        FacilityStatus.UNDER_CONSTRUCTION,
        PO,
        effect="leave_operation",
        **PO_REPORTS,
    ),
    lifecycle.rule(
        "open",
        _lazy("Opened"),
        [FacilityStatus.PLANNED, FacilityStatus.UNDER_CONSTRUCTION],
        FacilityStatus.OPERATIONAL,
        PO,
        params=("opened_on",),
        guards=("opening_date_given",),
        effect="set_opening_date",
        **PO_REPORTS,
    ),
    lifecycle.rule(
        "replan",
        _lazy("Back to planned"),
        [FacilityStatus.UNDER_CONSTRUCTION, FacilityStatus.OPERATIONAL],
        FacilityStatus.PLANNED,
        PO,
        effect="leave_operation",
        **PO_REPORTS,
    ),
    lifecycle.rule(
        "confirm_operational",
        _lazy("Operation confirmed"),
        [FacilityStatus.OPERATIONAL],
        FacilityStatus.OPERATIONAL,
        VERIFYING_ROLES,
        who="outside_any_po",
        params=("on",),
        guards=("confirmable",),
        effect="stamp_confirmation",
        **OWN_FORM,
    ),
]

FACILITY_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        CommonServiceFacility,
        FACILITY_RULES,
        guards={"opening_date_given": opening_date_given, "confirmable": confirmable},
        effects={
            "set_opening_date": set_opening_date,
            "leave_operation": leave_operation,
            "stamp_confirmation": stamp_confirmation,
        },
        who={"outside_any_po": outside_any_po},
    )
)


def status_action(source: str, target: str) -> str:
    """The action of the facility's table that leads from `source` to another status `target`."""
    for candidate in FACILITY_RULES:
        if source in candidate.sources and candidate.target == target and source != target:
            return candidate.action
    states = FACILITY_LIFECYCLE.states
    raise ActionRefused(
        _("A facility's status cannot change from %(from)s to %(to)s.")
        % {"from": states.get(source, source), "to": states.get(target, target)},
        code="wrong_state",
    )


# --- Import jobs ----------------------------------------------------------------------------------


# What a check or an import writes on its job (`store_report`), and a retry clears (`clear_attempt`).
REPORT_FIELDS = [
    "rows_total",
    "rows_done",
    "created_count",
    "updated_count",
    "unchanged_count",
    "error_count",
    "duplicate_count",
    "errors",
    "preview",
]


def store_report(job: ImportJob, **context) -> list[str]:
    """EFFECT: the check's (or the import's) report on the job, for its page and the API."""
    report = context["report"]
    job.phase = ""
    job.rows_total = job.rows_done = report.rows
    job.created_count = report.created
    job.updated_count = report.updated
    job.unchanged_count = report.unchanged
    job.error_count = report.error_count
    job.duplicate_count = report.duplicates
    job.errors = [error.as_dict() for error in report.errors]
    job.preview = report.preview
    fields = ["phase", *REPORT_FIELDS]
    if job.status == ImportStatus.COMMITTING:
        job.committed_at = timezone.now()
        return [*fields, "committed_at"]
    job.checked_at = timezone.now()
    return [*fields, "checked_at"]


def start_checking(job: ImportJob, **context) -> list[str]:
    """EFFECT: the worker is reading the file (its first sign of life)."""
    job.phase = "checking"
    job.heartbeat_at = timezone.now()
    return ["phase", "heartbeat_at"]


def queue_commit(job: ImportJob, **context) -> list[str]:
    """EFFECT: who asked for the import; the worker picks it up from the queue."""
    job.phase = "queued"
    job.rows_done = 0
    job.committed_by = context["_user"]
    return ["phase", "rows_done", "committed_by"]


def record_failure(job: ImportJob, **context) -> list[str]:
    """EFFECT: why the job stopped (the log row's comment), for the person who uploaded it; the
    progress a dead worker left in the cache goes."""
    job.failure = context["_comment"]
    job.phase = ""
    cache.delete(job.progress_cache_key)
    return ["failure", "phase"]


def clear_attempt(job: ImportJob, **context) -> list[str]:
    """EFFECT: a retried job starts again as if just uploaded: every field an attempt fills is back
    to its default (its log rows keep what happened)."""
    fields = [
        "phase",
        "failure",
        *REPORT_FIELDS,
        "committed_by",
        "checked_at",
        "committed_at",
        "heartbeat_at",
    ]
    for name in fields:
        # Concrete columns of the job, never relations to it.
        field = cast(Field, ImportJob._meta.get_field(name))
        setattr(job, name, field.get_default())
    cache.delete(job.progress_cache_key)
    return fields


def queue_worker(transition) -> None:
    """FOLLOW-UP: a move that hands the job to the worker queues it, inside the move's transaction
    (core.outbox publishes it once that commits): commit → write the file, retry → check it."""
    from enterprises.imports.jobs import start

    if transition.action in WORKER_ACTIONS:
        start(int(transition.object_id), commit=WORKER_ACTIONS[transition.action])


RUNNING = [ImportStatus.VALIDATING, ImportStatus.COMMITTING]
# The moves after which the worker has work: the action → whether it writes (True) or checks.
WORKER_ACTIONS = {"commit": True, "retry": False}
# The phase a job's row takes in the same transaction as its rows (enterprises.imports.jobs).
WRITTEN = "written"
# The PO's own staff, from the job's page (a button) or the API.
BY_OWN_PO = {"po_owned": True, "waits": False}

IMPORT_RULES = [
    lifecycle.rule(
        "check",
        _lazy("Checking started"),
        [ImportStatus.PENDING],
        ImportStatus.VALIDATING,
        [],
        effect="start_checking",
        **PORTAL,
    ),
    lifecycle.rule(
        "pass_check",
        _lazy("Checked: no problem found"),
        [ImportStatus.VALIDATING],
        ImportStatus.VALIDATED,
        [],
        params=("report",),
        effect="store_report",
        **PORTAL,
    ),
    lifecycle.rule(
        "find_errors",
        _lazy("Problems found: nothing imported"),
        RUNNING,
        ImportStatus.INVALID,
        [],
        params=("report",),
        effect="store_report",
        **PORTAL,
    ),
    lifecycle.rule(
        "commit",
        _lazy("Import requested"),
        [ImportStatus.VALIDATED],
        ImportStatus.COMMITTING,
        PO,
        po_owned=True,
        effect="queue_commit",
        button=False,
        waits=False,
    ),
    lifecycle.rule(
        "finish",
        _lazy("Imported"),
        [ImportStatus.COMMITTING],
        ImportStatus.DONE,
        [],
        params=("report",),
        effect="store_report",
        **PORTAL,
    ),
    lifecycle.rule(
        "fail",
        _lazy("Stopped on an error"),
        RUNNING,
        ImportStatus.FAILED,
        [],
        comment_required=True,
        effect="record_failure",
        **PORTAL,
    ),
    lifecycle.rule(
        "retry",
        _lazy("Retry"),
        [ImportStatus.FAILED],
        ImportStatus.PENDING,
        PO,
        effect="clear_attempt",
        **BY_OWN_PO,
    ),
    lifecycle.rule(
        "cancel",
        _lazy("Cancel the import"),
        [ImportStatus.FAILED, ImportStatus.VALIDATED, ImportStatus.INVALID],
        ImportStatus.CANCELLED,
        PO,
        style="secondary",
        confirm=_lazy("Cancel this import? Its file will not be imported; upload it again to import it."),
        **BY_OWN_PO,
    ),
]

IMPORT_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        ImportJob,
        IMPORT_RULES,
        effects={
            "store_report": store_report,
            "start_checking": start_checking,
            "queue_commit": queue_commit,
            "record_failure": record_failure,
            "clear_attempt": clear_attempt,
        },
        follow_up=queue_worker,
    )
)


# --- Import jobs whose worker died (core.jobs) ----------------------------------------------------


def import_worker_gone(job: ImportJob, since: datetime | None) -> str:
    """Why the sweeper failed the job: what the dead worker was doing, and what was written."""
    values = {"time": jobs.moment(since)}
    if job.status == ImportStatus.VALIDATING:
        return (
            _(
                "The worker checking this file stopped (no sign of life since %(time)s); nothing was "
                "written. Retry to check it again, or cancel the import."
            )
            % values
        )
    if job.phase == WRITTEN:
        return (
            _(
                "The worker importing this file stopped (no sign of life since %(time)s) just after "
                "writing its rows: they are in the portal. Retry to check the file again: its rows then show "
                "as unchanged."
            )
            % values
        )
    return (
        _(
            "The worker importing this file stopped (no sign of life since %(time)s); nothing was "
            "written (the rows are written all together or not at all). Retry to check the file again and "
            "import it, or cancel the import."
        )
        % values
    )


jobs.watch(
    jobs.JobKind(
        ImportJob,
        jobs.LockSpace.IMPORT_JOB,
        # Checking, or importing once a worker took it ("queued": no worker has it yet).
        Q(status=ImportStatus.VALIDATING) | (Q(status=ImportStatus.COMMITTING) & ~Q(phase="queued")),
        import_worker_gone,
        since_field="created_at",
        last_seen=lambda job: job.last_sign_of_life() or job.created_at,
    )
)
