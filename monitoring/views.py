from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.models import PartnerOrganization
from core.permissions import is_pmu, role_required
from core.roles import Role
from monitoring import aggregation, dashboard
from monitoring.models import AggregationRun, Dimension, Indicator, Milestone, RunStatus, RunTrigger

CHART_DIMENSIONS = [
    Dimension.SECTOR,
    Dimension.DIVISION,
    Dimension.PARTNER_ORGANIZATION,
    Dimension.GENDER,
    Dimension.CLIMATE,
    Dimension.BUSINESS_AREA,
    Dimension.SUB_SECTOR,
]
# The filter keys of the enterprise list for each breakdown, for drill-down links.
DRILL_FILTERS = {
    Dimension.SECTOR: "sector",
    Dimension.SUB_SECTOR: "sub_sector",
    Dimension.DIVISION: "division",
    Dimension.DISTRICT: "district",
    Dimension.PARTNER_ORGANIZATION: "partner_organization",
    Dimension.GENDER: "owner_gender",
    Dimension.CLIMATE: "climate_vulnerable",
    Dimension.BUSINESS_AREA: "business_area",
}


def _scope(request: HttpRequest) -> tuple[PartnerOrganization | None, list[PartnerOrganization]]:
    """The PO whose figures are shown (None: the programme) and the POs a programme-wide role may
    choose from; PO staff always see their own PO, whatever the address says."""
    po = dashboard.scope_po(request.user, request.GET.get("po", ""))
    pos = list(PartnerOrganization.objects.order_by("code")) if request.user.sees_whole_programme else []
    return po, pos


# A chart shows at most this many groups; the PO breakdown's table says how many more there are.
CHART_GROUPS = 15


def _chart(dimension: str, values: list) -> dict:
    shown = values[:CHART_GROUPS]
    is_po = dimension == Dimension.PARTNER_ORGANIZATION
    return {
        "dimension": dimension,
        "label": Dimension(dimension).label,
        "rows": shown if is_po else values,
        "more": len(values) - len(shown) if is_po else 0,
        "data": {"labels": [v.label for v in shown], "values": [float(v.value) for v in shown]},
        # Doughnuts for two or three groups, bars (one line each) otherwise.
        "height": 220 if len(values) <= 3 else 50 + 26 * len(shown),
    }


def _as_of(request: HttpRequest) -> date | None:
    try:
        return date.fromisoformat(request.GET.get("as_of", ""))
    except ValueError:
        return None


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    po, pos = _scope(request)
    board = dashboard.board(as_of=_as_of(request), po_id=po.pk if po else None)
    codes = [headline.indicator.code for headline in board.headlines]
    selected_code = request.GET.get("indicator") if request.GET.get("indicator") in codes else "ME_FINANCED"
    selected = board.headline(selected_code)
    charts = [
        _chart(dimension, selected.breakdowns[dimension])
        for dimension in CHART_DIMENSIONS
        if selected is not None and selected.breakdowns.get(dimension)
    ]
    trend = dashboard.trend(selected_code, po_code=po.code if po else None)
    districts = selected.breakdowns.get(Dimension.DISTRICT, []) if selected else []
    context = {
        "board": board,
        "po": po,
        "pos": pos,
        "selected": selected,
        "charts": charts,
        "districts": districts,
        "trend_data": {
            "labels": [day.isoformat() for day, _value in trend],
            "values": [float(value) for _day, value in trend],
            "target": float(selected.target) if selected and selected.target else None,
            "name": str(selected.indicator.name) if selected else "",
        },
        "map_data": {
            "values": {value.key: float(value.value) for value in districts},
            "name": str(selected.indicator.name) if selected else "",
            "unit": selected.indicator.get_unit_display() if selected else "",
        },
        "enterprise_list": reverse("enterprises:enterprise-list"),
        "drill_filters": DRILL_FILTERS,
        "can_refresh": is_pmu(request.user),
        "last_run": AggregationRun.objects.order_by("-requested_at").first()
        if request.user.sees_whole_programme
        else None,
    }
    return render(request, "monitoring/dashboard.html", context)


# --- Targets and milestones -----------------------------------------------------------------------


class TargetForm(forms.ModelForm):
    class Meta:
        model = Indicator
        fields = ["target"]
        labels = {"target": gettext_lazy("End-of-project target")}


class MilestoneForm(forms.ModelForm):
    class Meta:
        model = Milestone
        fields = ["indicator", "year", "target"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.update(
                {
                    "class": "form-select form-select-sm"
                    if isinstance(field.widget, forms.Select)
                    else "form-control form-control-sm",
                    "aria-label": str(field.label),
                }
            )

    def clean_year(self):
        year = self.cleaned_data["year"]
        if not 2023 <= year <= 2040:
            raise forms.ValidationError(_("Enter a year of the programme (2023 to 2040)."))
        return year


MilestoneFormSet = forms.modelformset_factory(Milestone, form=MilestoneForm, extra=3, can_delete=True)


@role_required(Role.PMU_OFFICER)
def targets_page(request: HttpRequest) -> HttpResponse:
    indicators = list(Indicator.objects.order_by("position"))
    data = request.POST if request.method == "POST" else None
    target_forms = [
        TargetForm(data, instance=indicator, prefix=f"target-{indicator.pk}") for indicator in indicators
    ]
    milestones = MilestoneFormSet(
        data, queryset=Milestone.objects.select_related("indicator").order_by("indicator__position", "year"),
        prefix="milestones",
    )  # fmt: skip
    if data is not None:
        if all(form.is_valid() for form in target_forms) and milestones.is_valid():
            with transaction.atomic():
                for form in target_forms:
                    if form.has_changed():
                        form.save()
                milestones.save()
            messages.success(request, _("Targets and milestones saved. The dashboard shows them at once."))
            return redirect("monitoring:targets")
        messages.error(request, _("Please correct the fields marked below. Nothing has been saved yet."))
    return render(
        request,
        "monitoring/targets.html",
        {"rows": list(zip(indicators, target_forms, strict=True)), "milestones": milestones},
    )


# --- Runs -----------------------------------------------------------------------------------------


@login_required
def runs_page(request: HttpRequest) -> HttpResponse:
    if not request.user.sees_whole_programme:
        raise PermissionDenied
    runs = AggregationRun.objects.select_related("requested_by")[:30]
    busy = any(run.status in {RunStatus.QUEUED, RunStatus.RUNNING} for run in runs)
    template = "monitoring/_runs_table.html" if request.htmx else "monitoring/runs.html"
    return render(request, template, {"runs": runs, "busy": busy, "can_refresh": is_pmu(request.user)})


@require_POST
@role_required(Role.PMU_OFFICER)
def run_now(request: HttpRequest) -> HttpResponse:
    run = aggregation.request_run(trigger=RunTrigger.BUTTON, user=request.user)
    messages.info(
        request,
        _(
            "The indicators are being recomputed as of %(date)s. The dashboard shows the new figures "
            "when it is done."
        )
        % {"date": run.as_of},
    )
    return redirect("monitoring:runs")
