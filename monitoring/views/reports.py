"""The results reports page: request an ISR table or a PO report, follow its generation (htmx polling
while queued or running, like the aggregation runs page) and download it through a checked view."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.models import PartnerOrganization
from core.permissions import is_pmu, sees_whole_programme
from core.reference_names import translated_name
from monitoring import reports
from monitoring.models import ReportFormat, ReportJob, ReportKind, RunStatus

COMMENT_PREFIX = "comment_"
POLL_FOR = timedelta(hours=1)


def _require_reports(request: HttpRequest) -> None:
    if not reports.may_use_reports(request.user):
        raise PermissionDenied


class ReportRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Report"), widget=forms.RadioSelect(attrs={"class": "form-check-input"})
    )
    file_format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=ReportFormat.choices,
        initial=ReportFormat.XLSX,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    as_of = forms.DateField(
        label=gettext_lazy("Reporting date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Usually a quarter-end, e.g. 2025-06-30."),
    )
    previous_as_of = forms.DateField(
        label=gettext_lazy("Previous reporting date (ISR table)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Leave empty for the last quarter-end before the reporting date."),
    )
    po = forms.ModelChoiceField(
        label=gettext_lazy("PO (PO results report)"),
        queryset=PartnerOrganization.objects.order_by("code"),
        to_field_name="code",
        required=False,
    )

    def __init__(self, *args, user, indicators=(), comments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        whole = sees_whole_programme(user)
        self.fields["kind"].choices = ReportKind.choices if whole else [(ReportKind.PO, ReportKind.PO.label)]
        self.fields["kind"].initial = ReportKind.ISR if whole else ReportKind.PO
        if not whole:
            # PO staff: their own PO's report, nothing to choose; no previous date (ISR only).
            del self.fields["po"]
            del self.fields["previous_as_of"]
        self.comment_fields = []
        if is_pmu(user):
            for indicator in indicators:
                name = f"{COMMENT_PREFIX}{indicator.code}"
                self.fields[name] = forms.CharField(
                    label=translated_name(indicator.name),
                    required=False,
                    max_length=reports.COMMENT_MAX_LENGTH,
                    widget=forms.Textarea(attrs={"rows": 1}),
                    initial=(comments or {}).get(indicator.code, ""),
                )
                self.comment_fields.append(name)
            # Changing the date brings that date's last comments (htmx).
            self.fields["as_of"].widget.attrs.update(
                {
                    "hx-get": reverse("monitoring:report-comments"),
                    "hx-trigger": "change",
                    "hx-target": "#report-comments",
                    "hx-swap": "outerHTML",
                }
            )
        for field in self.fields.values():
            if not isinstance(field.widget, forms.RadioSelect):
                css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
                field.widget.attrs.setdefault("class", css)

    @property
    def comment_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.comment_fields]

    def comments(self) -> dict[str, str] | None:
        if not self.comment_fields:
            return None
        return {
            name.removeprefix(COMMENT_PREFIX): self.cleaned_data.get(name, "")
            for name in self.comment_fields
            if self.cleaned_data.get(name)
        }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        po = data.get("po")
        try:
            self.checked = reports.check_request(
                self.user,
                kind=data["kind"],
                file_format=data["file_format"],
                as_of=data.get("as_of"),
                previous_as_of=data.get("previous_as_of"),
                po_code=po.code if po else None,
                # Comments belong to the ISR table; the form shows them whatever the kind chosen.
                comments=self.comments() if data["kind"] == ReportKind.ISR else None,
            )
        except ValidationError as exc:
            for name, problems in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, problems)
        return data


def _jobs_context(request: HttpRequest) -> dict:
    """The user's recent reports, and the watched ones (just requested) to announce when ready."""
    jobs = list(reports.visible_jobs(request.user).filter(requested_by=request.user)[: reports.RECENT_JOBS])
    watch = {int(pk) for pk in request.GET.get("watch", "").split(",") if pk.isdigit()}
    return {
        "jobs": jobs,
        "watch": ",".join(str(pk) for pk in sorted(watch)),
        "watched": [
            job for job in jobs if job.pk in watch and job.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        ],
        # Poll while a recent job waits or runs (a job left "running" by a dead worker stops the
        # polling after an hour rather than polling for ever).
        "busy": any(
            job.status in (RunStatus.QUEUED, RunStatus.RUNNING)
            and job.requested_at > timezone.now() - POLL_FOR
            for job in jobs
        ),
    }


@login_required
def reports_page(request: HttpRequest) -> HttpResponse:
    _require_reports(request)
    if request.htmx and request.method == "GET":
        return render(request, "monitoring/_report_jobs.html", _jobs_context(request))
    indicators = reports.framework()
    if request.method == "POST":
        form = ReportRequestForm(request.POST, user=request.user, indicators=indicators)
        if form.is_valid():
            job = reports.create_job(request.user, form.checked)
            messages.info(request, _("Your report is being prepared. This page shows it when it is ready."))
            return redirect(f"{reverse('monitoring:reports')}?watch={job.pk}")
        messages.error(
            request, _("Please correct the fields marked below. No report has been requested yet.")
        )
    else:
        as_of = reports.latest_quarter_end()
        initial = {"as_of": as_of}
        if request.GET.get("kind") in ReportKind.values:
            initial["kind"] = request.GET["kind"]
        if request.GET.get("po"):
            initial["po"] = PartnerOrganization.objects.filter(code=request.GET["po"]).first()
        form = ReportRequestForm(
            user=request.user, indicators=indicators, comments=reports.last_comments(as_of), initial=initial
        )
    return render(request, "monitoring/reports.html", {"form": form, **_jobs_context(request)})


@login_required
def report_comments(request: HttpRequest) -> HttpResponse:
    """htmx: the comment fields pre-filled from the last ISR report of the date chosen."""
    if not is_pmu(request.user):
        raise PermissionDenied
    field = forms.DateField(required=False)
    try:
        as_of = field.clean(request.GET.get("as_of"))
    except ValidationError:
        as_of = None
    form = ReportRequestForm(
        user=request.user, indicators=reports.framework(), comments=reports.last_comments(as_of)
    )
    return render(request, "monitoring/_report_comments.html", {"form": form, "as_of": as_of})


def _visible_job(request: HttpRequest, pk: int) -> ReportJob:
    _require_reports(request)
    job = reports.visible_jobs(request.user).filter(pk=pk).first()
    if job is None:
        raise Http404(_("No report matches the given query."))
    return job


@login_required
def report_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The file of a finished report, for whoever may see its scope (never a public media URL)."""
    job = _visible_job(request, pk)
    if job.status != RunStatus.SUCCEEDED or not job.file:
        raise Http404(_("This report has no file yet."))
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=reports.download_name(job),
        content_type=reports.CONTENT_TYPES[job.file_format],
    )


@require_POST
@login_required
def report_again(request: HttpRequest, pk: int) -> HttpResponse:
    job = _visible_job(request, pk)
    try:
        again = reports.request_again(job, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("monitoring:reports")
    messages.info(request, _("The report is being prepared again."))
    return redirect(f"{reverse('monitoring:reports')}?watch={again.pk}")
