from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils import translation
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from core.digits import to_bangla_digits, wants_bangla_digits
from core.errors import ActionRefused
from core.models import PartnerOrganization
from core.permissions import is_pmu, is_po_staff, role_required
from core.reference_names import translated_name
from core.roles import Role
from enterprises.permissions import can_read_field_data
from monitoring import aggregation, dashboard, outcomes
from monitoring.indicators import EXCLUDES_EARLY_FINANCING, excluded_financing, programme_start
from monitoring.models import AggregationRun, Dimension, Indicator, Level, Milestone, RunStatus, RunTrigger
from monitoring.templatetags.indicators import figure

CHART_DIMENSIONS = [
    Dimension.SECTOR,
    Dimension.DIVISION,
    Dimension.PARTNER_ORGANIZATION,
    Dimension.GENDER,
    Dimension.CLIMATE,
    Dimension.BUSINESS_AREA,
    Dimension.SUB_SECTOR,
]


def _scope(request: HttpRequest) -> tuple[PartnerOrganization | None, list[PartnerOrganization]]:
    """The PO whose figures are shown (None: the programme) and the POs a programme-wide role may
    choose from; PO staff always see their own PO, whatever the address says."""
    po = dashboard.scope_po(request.user, request.GET.get("po", ""))
    pos = list(PartnerOrganization.objects.order_by("code")) if request.user.sees_whole_programme else []
    return po, pos


# A chart shows at most this many groups; the PO breakdown's table says how many more there are.
CHART_GROUPS = 15
# Groups named in a chart's text alternative (aria-label); its table lists them all.
SUMMARY_GROUPS = 5


def _figure_text(row: dashboard.BreakdownRow, unit: str) -> str:
    """A group's figure as the table shows it: 37.5 % (3 / 8) for a share."""
    text = figure(row.value, unit)
    if row.denominator:
        text += f" ({intcomma(int(row.numerator or 0))} / {intcomma(int(row.denominator))})"
    return text


def _chart(headline: dashboard.Headline, dimension: str, rows: list, digits: Callable[[str], str]) -> dict:
    """One breakdown chart: its groups (at most CHART_GROUPS), their figures as shown (numbers in the
    language's grouping and digits) and drill-down links, and a text alternative."""
    shown = rows[:CHART_GROUPS]
    is_po = dimension == Dimension.PARTNER_ORGANIZATION
    label = Dimension(dimension).label
    tooltips = [digits(_figure_text(row, headline.indicator.unit)) for row in shown]
    named = [f"{row.label}: {text}" for row, text in zip(shown[:SUMMARY_GROUPS], tooltips, strict=False)]
    if others := len(rows) - len(named):
        named.append(
            digits(
                ngettext("and %(count)s more group", "and %(count)s more groups", others) % {"count": others}
            )
        )
    return {
        "dimension": dimension,
        "label": label,
        "rows": shown if is_po else rows,
        "more": len(rows) - len(shown) if is_po else 0,
        "data": {
            "labels": [row.label for row in shown],
            "values": [float(row.value) for row in shown],
            "tooltips": tooltips,
            "links": [row.url for row in shown],
        },
        "summary": _("%(indicator)s by %(breakdown)s: %(groups)s")
        % {
            "indicator": translated_name(headline.indicator.name),
            "breakdown": label,
            "groups": "; ".join(named),
        },
        # Doughnuts for two or three groups, bars (one line each) otherwise.
        "height": 220 if len(rows) <= 3 else 50 + 26 * len(shown),
    }


def _trend_chart(headline: dashboard.Headline, trend: list, digits: Callable[[str], str]) -> dict:
    """The trend's points with their labels made here, in the active language: months on the axis,
    the snapshot's day and the figure in the tooltip; and a text alternative."""
    unit, name = headline.indicator.unit, translated_name(headline.indicator.name)
    days = [day for day, _value in trend]
    titles = [digits(date_format(day, "DATE_FORMAT")) for day in days]
    tooltips = [digits(figure(value, unit)) for _day, value in trend]
    if not trend:
        summary = _("%(indicator)s over time: no figures yet.") % {"indicator": name}
    else:
        summary = _("%(indicator)s over time: %(first)s on %(first_day)s, %(last)s on %(last_day)s.") % {
            "indicator": name,
            "first": tooltips[0],
            "first_day": titles[0],
            "last": tooltips[-1],
            "last_day": titles[-1],
        }
    return {
        "data": {
            "name": name,
            "labels": [digits(dashboard.month_label(day)) for day in days],
            "ticks": [digits(label) for label in dashboard.month_ticks(days)],
            "titles": titles,
            "values": [float(value) for _day, value in trend],
            "tooltips": tooltips,
            # Axis numbers: lakh/crore grouping, in Bangla digits where the page has them.
            "locale": "bn-IN" if digits is to_bangla_digits else "en-IN",
        },
        "summary": summary,
        # The latest points as a table (the indicator's page has its whole history).
        "rows": list(reversed(trend[-12:])),
    }


def _district_map(headline: dashboard.Headline, rows: list, digits: Callable[[str], str]) -> dict:
    """The map's colour classes (legend), and each district's figure, class colour and link."""
    classes = dashboard.colour_classes([row.value for row in rows])
    districts = {}
    for row in rows:
        index = dashboard.class_of(row.value, classes)
        districts[row.key] = {
            "figure": digits(_figure_text(row, headline.indicator.unit)),
            "colour": dashboard.NO_DATA if index is None else classes[index].colour,
            "url": row.url,
        }
    return {
        "legend": classes,
        "no_data_colour": dashboard.NO_DATA,
        "data": {
            "districts": districts,
            "noData": {"colour": dashboard.NO_DATA, "label": str(_("no data"))},
        },
    }


def _scope_query(as_of: dashboard.AsOf, po: PartnerOrganization | None, pos: list) -> str:
    """The query string that keeps the date and scope when moving between results pages."""
    params = {}
    if as_of.requested:
        params["as_of"] = as_of.requested.isoformat()
    if po is not None and pos:
        params["po"] = po.code
    return f"?{urlencode(params)}" if params else ""


def _as_of(request: HttpRequest) -> tuple[dashboard.AsOf, str]:
    """The snapshot answering the page's "as of" date, and the problem with the date typed, if any."""
    try:
        requested = dashboard.parse_as_of(request.GET.get("as_of"))
    except ValidationError as exc:
        return dashboard.snapshot_as_of(None), " ".join(exc.messages)
    return dashboard.snapshot_as_of(requested, user=request.user), ""


def _scope_context(request: HttpRequest) -> dict:
    """What every results page starts from: the scope (programme or one PO, and the POs to choose
    from) and the snapshot answering the "as of" date."""
    po, pos = _scope(request)
    as_of, date_problem = _as_of(request)
    return {
        "po": po,
        "pos": pos,
        "as_of": as_of,
        "date_problem": date_problem,
        "requested_as_of": request.GET.get("as_of", ""),
        "programme_start": programme_start(),
        "scope_query": _scope_query(as_of, po, pos),
    }


def _results_context(request: HttpRequest) -> dict:
    """The scope and snapshot (`_scope_context`) and the board of that snapshot and scope."""
    context = _scope_context(request)
    po = context["po"]
    # These pages show totals only: no breakdown is read.
    context["board"] = dashboard.board(as_of=context["as_of"], po_id=po.pk if po else None, breakdowns_of=())
    return context


def _trend(code: str, context: dict) -> list:
    """The indicator's totals in the page's scope, up to the snapshot shown."""
    po, snapshot = context["po"], context["board"].snapshot
    return dashboard.trend(code, po_code=po.code if po else None, until=snapshot.as_of if snapshot else None)


def _detail(
    selected: dashboard.Headline,
    *,
    as_of: dashboard.AsOf,
    po: PartnerOrganization | None,
    can_drill: bool,
    digits: Callable[[str], str],
) -> dict:
    """The selected indicator in detail: its trend, district map and breakdown charts."""
    code = selected.indicator.code
    # Without the right to read the lists, no figure links anywhere.
    drill_as_of = as_of.snapshot.as_of if as_of.snapshot and can_drill else None

    def rows(dimension: str) -> list[dashboard.BreakdownRow]:
        return dashboard.breakdown_rows(
            code, selected.breakdowns.get(dimension, []), as_of=drill_as_of, po_code=po.code if po else None
        )

    districts = rows(Dimension.DISTRICT)
    history = dashboard.trend(
        code, po_code=po.code if po else None, until=as_of.snapshot.as_of if as_of.snapshot else None
    )
    return {
        "charts": [
            _chart(selected, dimension, rows(dimension), digits)
            for dimension in CHART_DIMENSIONS
            if selected.breakdowns.get(dimension)
        ],
        "districts": districts,
        "trend": _trend_chart(selected, history, digits),
        "district_map": _district_map(selected, districts, digits),
    }


def _dashboard_fragments(
    request: HttpRequest,
    context: dict,
    indicators: list[Indicator],
    outline: dashboard.Board,
    selected_code: str | None,
) -> dict[str, object]:
    """The headline cards ("card:<code>") and the selected indicator's detail ("detail": its HTML and
    whether it has a map), from the cache, drawing (and caching) only those missing. Only what is
    drawn is read: the values of the totals and of the selected indicator's breakdowns, its trend."""
    po, as_of = context["po"], context["as_of"]
    po_id = po.pk if po else None
    # The cards show milestones for the programme only; a PO's cards its commitments.
    milestones = dashboard.board_milestones(as_of) if po is None else {}
    commitments = dashboard.po_commitments(po.pk, as_of.snapshot.as_of) if po is not None else None
    can_drill, bangla = context["can_drill"], wants_bangla_digits(request)
    # Everything besides the scope and the indicator that changes the fragments' HTML.
    shared = dashboard.key_context(
        dashboard.snapshot_identity(as_of),
        translation.get_language(),
        bangla,
        can_drill,
        context["scope_query"],
        bool(po and context["pos"]),
        dashboard.live_digest(indicators, milestones, commitments),
        # The map's shapes, by their (hashed, in production) address.
        static("monitoring/bd_districts.geojson"),
    )
    scope = dashboard.fragment_scope(po_id)
    keys = {
        f"card:{code}": dashboard.fragment_key(
            "card-selected" if code == selected_code else "card", code, scope=scope, context=shared
        )
        for code in (headline.indicator.code for headline in outline.headlines)
    }
    if selected_code is not None:
        keys["detail"] = dashboard.fragment_key("detail", selected_code, scope=scope, context=shared)

    def draw(names: list[str]) -> dict[str, object]:
        board = dashboard.board(
            as_of=as_of,
            po_id=po_id,
            indicators=indicators,
            milestones=milestones,
            commitments=commitments,
            breakdowns_of=[selected_code] if "detail" in names else [],
        )
        card = loader.get_template("monitoring/_headline_card.html")
        shown = {
            "can_drill": can_drill,
            "po": po,
            "po_in_links": bool(po and context["pos"]),
            "scope_query": context["scope_query"],
            "snapshot_as_of": as_of.snapshot.as_of,
        }
        drawn: dict[str, object] = {}
        for name in names:
            if name == "detail":
                selected = board.headline(selected_code)
                digits = to_bangla_digits if bangla else str
                detail = _detail(selected, as_of=as_of, po=po, can_drill=can_drill, digits=digits)
                html = loader.render_to_string(
                    "monitoring/_dashboard_detail.html", shown | detail | {"selected": selected}
                )
                drawn[name] = {"html": html, "has_map": bool(detail["districts"])}
            else:
                headline = board.headline(name.removeprefix("card:"))
                drawn[name] = card.render(
                    shown
                    | {
                        "headline": headline,
                        "companion": board.companions.get(headline.indicator.code),
                        "is_selected": headline.indicator.code == selected_code,
                    }
                )
        return drawn

    fragments, _drawn = dashboard.cached_fragments(keys, draw)
    return fragments


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    context = _scope_context(request)
    po, as_of = context["po"], context["as_of"]
    # The board's indicators, in order and grouped, without figures: the page's outline. The figures
    # are in the fragments (cached, or drawn for this request).
    indicators = list(Indicator.objects.order_by("position"))
    outline = dashboard.board(as_of=as_of, po_id=po.pk if po else None, indicators=indicators, figures=False)
    codes = {headline.indicator.code for headline in outline.headlines}
    selected_code = request.GET.get("indicator") if request.GET.get("indicator") in codes else "ME_FINANCED"
    selected = outline.headline(selected_code)
    context |= {
        "board": outline,
        "selected": selected,
        "can_drill": can_read_field_data(request.user),
        "can_refresh": is_pmu(request.user),
        "last_run": AggregationRun.objects.order_by("-requested_at").first()
        if request.user.sees_whole_programme
        else None,
    }
    if as_of.snapshot is not None:
        fragments = _dashboard_fragments(request, context, indicators, outline, selected and selected_code)
        # The fragments are SafeStrings our own (autoescaping) templates drew; the cache keeps their
        # type (pickle), so they are inserted as they are, and anything else would be escaped.
        context["levels"] = [
            (level, [fragments[f"card:{headline.indicator.code}"] for headline in headlines])
            for level, headlines in outline.by_level
        ]
        if detail := fragments.get("detail"):
            context["detail"] = detail
    return render(request, "monitoring/dashboard.html", context)


@login_required
def indicator_page(request: HttpRequest, code: str) -> HttpResponse:
    """One indicator: its rule in words, its place in the results framework, its figure as of a date
    against the target that applies, its history, and what the rule leaves out."""
    indicator = get_object_or_404(Indicator.objects.select_related("parent"), code=code)
    context = _results_context(request)
    board, po = context["board"], context["po"]
    context |= {
        "indicator": indicator,
        "headline": board.headline(code),
        "companion": board.companions.get(code),
        "milestones": indicator.milestones.order_by("year"),
        "history": _trend(code, context)[-24:],
        "excluded": excluded_financing(po.pk if po else None) if code in EXCLUDES_EARLY_FINANCING else None,
        "can_edit": is_pmu(request.user),
        "changes": indicator.history.select_related("history_user").order_by("-history_date")[:10]
        if request.user.sees_whole_programme
        else [],
    }
    return render(request, "monitoring/indicator.html", context)


class FrameworkForm(forms.ModelForm):
    """An indicator's results-framework columns, edited by the PMU (kept in its history)."""

    class Meta:
        model = Indicator
        fields = [
            "level",
            "baseline_value",
            "baseline_date",
            "target",
            "data_source",
            "frequency",
            "responsible_unit",
        ]
        labels = {"target": gettext_lazy("End-of-project target")}
        widgets = {"baseline_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            )


@role_required(Role.PMU_OFFICER)
def framework_edit(request: HttpRequest, code: str) -> HttpResponse:
    indicator = get_object_or_404(Indicator, code=code)
    form = FrameworkForm(request.POST or None, instance=indicator)
    milestones = IndicatorMilestoneFormSet(request.POST or None, instance=indicator, prefix="milestones")
    if request.method == "POST":
        if form.is_valid() and milestones.is_valid():
            with transaction.atomic():
                form.save()
                milestones.save()
            messages.success(request, _("The results framework of this indicator is saved."))
            return redirect("monitoring:indicator", code=indicator.code)
        messages.error(request, _("Please correct the fields marked below. Nothing has been saved yet."))
    return render(
        request,
        "monitoring/framework_form.html",
        {"indicator": indicator, "form": form, "milestones": milestones},
    )


@login_required
def framework_page(request: HttpRequest) -> HttpResponse:
    """The results framework as a table: level, baseline, yearly targets, end target, source,
    frequency and responsible unit of every indicator."""
    if not (request.user.sees_whole_programme or is_po_staff(request.user)):
        raise PermissionDenied
    indicators = list(
        Indicator.objects.select_related("parent").prefetch_related("milestones").order_by("position")
    )
    years = sorted({m.year for indicator in indicators for m in indicator.milestones.all()})
    rows = [
        (
            indicator,
            [next((m.target for m in indicator.milestones.all() if m.year == y), None) for y in years],
        )
        for indicator in indicators
    ]
    levels = [
        (value, label, [row for row in rows if row[0].level == value]) for value, label in Level.choices
    ]
    return render(
        request,
        "monitoring/framework.html",
        {"levels": [level for level in levels if level[2]], "years": years, "can_edit": is_pmu(request.user)},
    )


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


class BaseMilestoneFormSet(forms.BaseModelFormSet):
    """Every row offers the same indicators: they are read once for the formset, not once per row."""

    @cached_property
    def indicator_choices(self) -> list:
        return list(self.form.base_fields["indicator"].choices)

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.fields["indicator"].choices = self.indicator_choices
        return form


MilestoneFormSet = forms.modelformset_factory(
    Milestone, form=MilestoneForm, formset=BaseMilestoneFormSet, extra=3, can_delete=True
)


class IndicatorMilestoneForm(MilestoneForm):
    class Meta(MilestoneForm.Meta):
        fields = ["year", "target"]


IndicatorMilestoneFormSet = forms.inlineformset_factory(
    Indicator, Milestone, form=IndicatorMilestoneForm, extra=2, can_delete=True
)


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
    return render(
        request,
        template,
        {
            "runs": runs,
            # Polled while a run is queued or running; a run whose worker died is failed by the
            # sweeper (core.jobs), so the polling always ends.
            "busy": busy,
            "can_refresh": is_pmu(request.user),
            "rerunnable": aggregation.RERUNNABLE,
        },
    )


@require_POST
@role_required(Role.PMU_OFFICER)
def run_now(request: HttpRequest) -> HttpResponse:
    """Recompute now ("as_of": a past date), or run again the run named by "again" (one that failed
    or was skipped: a new run for its date)."""
    if request.POST.get("again"):
        return _run_again(request, request.POST["again"])
    try:
        as_of = dashboard.parse_as_of(request.POST.get("as_of"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("monitoring:dashboard")
    run = aggregation.request_run(as_of=as_of, trigger=RunTrigger.BUTTON, user=request.user)
    messages.info(
        request,
        _(
            "The indicators are being recomputed as of %(date)s. The dashboard shows the new figures "
            "when it is done."
        )
        % {"date": run.as_of},
    )
    return redirect("monitoring:runs")


def _run_again(request: HttpRequest, run_id: str) -> HttpResponse:
    if not run_id.isdigit() or len(run_id) > 18:  # not an id a row can have
        raise Http404
    previous = get_object_or_404(AggregationRun, pk=int(run_id))
    try:
        run = aggregation.run_again(previous, trigger=RunTrigger.BUTTON, user=request.user)
    except ActionRefused as exc:
        messages.error(request, str(exc))
        return redirect("monitoring:runs")
    except ValidationError as exc:  # its date no longer lies in the programme's span
        messages.error(request, " ".join(exc.messages))
        return redirect("monitoring:runs")
    messages.info(
        request,
        _("Run %(previous)s is being run again as of %(date)s (run %(run)s).")
        % {"previous": previous.pk, "date": run.as_of, "run": run.pk},
    )
    return redirect("monitoring:runs")


# --- Environmental outcomes and jobs --------------------------------------------------------------

OUTCOME_BREAKDOWNS = [
    Dimension.SECTOR,
    Dimension.BUSINESS_AREA,
    Dimension.DISTRICT,
    Dimension.PARTNER_ORGANIZATION,
]
JOB_CODES = ("WAGE_JOBS_WOMEN", "WAGE_JOBS_MEN", "WAGE_JOBS_WOMEN_ADDED", "WAGE_JOBS_MEN_ADDED")


@login_required
def outcomes_page(request: HttpRequest) -> HttpResponse:
    """Resource savings and emissions avoided (baseline vs latest per ME, from the snapshot) and wage
    jobs in financed MEs, in total or by sector, business area, district or PO."""
    context = _results_context(request)
    board, po = context["board"], context["po"]
    breakdowns = [d for d in OUTCOME_BREAKDOWNS if po is None or d != Dimension.PARTNER_ORGANIZATION]
    dimension = request.GET.get("by") if request.GET.get("by") in breakdowns else Dimension.TOTAL
    context |= {
        "sections": outcomes.stored(board.snapshot, po_id=po.pk if po else None, dimension=dimension),
        "rule": outcomes.RULE,
        "dimension": dimension,
        "breakdowns": [(d, Dimension(d).label) for d in breakdowns],
        "jobs": [board.headline(code) for code in JOB_CODES if board.headline(code)],
    }
    return render(request, "monitoring/outcomes.html", context)
