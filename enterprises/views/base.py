"""Plumbing shared by the field-data pages: a filtered, paginated, exportable list view, and the
way refusals and validation errors come back to the person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import date as format_date
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views import View

from core.errors import ActionRefused
from core.exports import export_or_refuse
from core.lifecycle.views import report_refusal
from core.lists import Listing, SortSpec
from enterprises.models import Adoption, CommonServiceFacility
from enterprises.permissions import FieldDataReaderMixin
from subprojects.models import Transition
from subprojects.timeline import TimelineEntry, log_entries


def programme_start_note() -> str:
    """The flag of a disbursement dated before settings.PROGRAMME_START."""
    return _("before the programme start (%(date)s): not counted as project financing") % {
        "date": format_date(settings.PROGRAMME_START, "DATE_FORMAT")
    }


def unmapped_badge() -> str:
    """How a session without a module is marked wherever it is shown."""
    return format_html(
        '<span class="badge text-bg-warning" data-testid="unmapped">{}</span>',
        _("not mapped to a module: counts for no indicator"),
    )


def module_cell(session) -> str:
    """A session's module, with its climate-vulnerability tag, or the unmapped badge."""
    if not session.module_id:
        return unmapped_badge()
    if session.module.climate_vulnerability:
        return format_html(
            '{} <span class="badge text-bg-info">{}</span>', session.module, _("climate vulnerability")
        )
    return str(session.module)


def decisions_for(objects: list[Model], *actions: str) -> dict[int, list[Transition]]:
    """The audit-trail rows (checks by the PMU or a verifier) of these objects, by object id, in
    one query."""
    if not objects:
        return {}
    found: dict[int, list[Transition]] = {}
    rows = Transition.objects.filter(
        content_type=ContentType.objects.get_for_model(type(objects[0])),
        object_id__in=[obj.pk for obj in objects],
        action__in=actions,
    ).select_related("actor")
    for row in rows.order_by("at", "pk"):
        found.setdefault(row.object_id, []).append(row)
    return found


def timelines_for(objects: list[Model]) -> dict[int, list[TimelineEntry]]:
    """The histories of objects of one kind shown together (the adoptions of an ME), oldest first,
    by object id, in one query (`enterprises.decisions.decisions_of` gives one object's)."""
    if not objects:
        return {}
    model = type(objects[0])
    rows = (
        Transition.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id__in=[obj.pk for obj in objects]
        )
        .select_related("actor")
        .order_by("at", "pk")
    )
    found: dict[int, list] = {}
    for row in rows:
        found.setdefault(row.object_id, []).append(row)
    return {object_id: log_entries(model, object_rows) for object_id, object_rows in found.items()}


def style_form(form: forms.Form) -> forms.Form:
    """Bootstrap classes on a filter form's widgets (the filter bar is rendered by hand, not by
    crispy-forms)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select | forms.SelectMultiple):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        elif isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        else:
            widget.attrs.setdefault("class", "form-control form-control-sm")
    return form


def attach_errors(form: forms.Form, exc: ValidationError) -> None:
    """Errors from a service (model rules, constraints) onto the form, by field where it has one."""
    if hasattr(exc, "error_dict"):
        for field, messages_ in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, exc.messages)


def refuse(request: HttpRequest, exc: ActionRefused, back: str) -> HttpResponse:
    """A role that may not act gets 403; a refused action a message on the unchanged page."""
    report_refusal(request, exc)
    return redirect(back)


def querystring_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


@dataclass(frozen=True)
class TableColumn:
    header: str | Promise
    value: Callable[[Any], Any]
    link: Callable[[Any], str] | None = None
    numeric: bool = False
    # `?sort=<sort_key>` sorts the list by this column, on the ORM fields `sort_by` (the key itself
    # when empty); a column without a key is not sortable.
    sort_key: str = ""
    sort_by: tuple[str, ...] = ()


class RecordListView(FieldDataReaderMixin, View):
    """A list with the filter bar of its FilterSet, columns sortable by their `sort_key`, 50 rows a
    page (or 25 or 100), and CSV/XLSX export of everything the filters select (`?export=csv`), in
    the order shown."""

    title: str | Promise = ""
    intro: str | Promise = ""
    # What the list says when it has no row and no filter is set.
    nothing_yet: str | Promise = ""
    model = None
    filterset_class = None
    related: tuple[str, ...] = ()
    # The order when no column is asked for: `default_sort` ("key" or "-key" of a column), else
    # `ordering`.
    ordering: tuple[str, ...] = ("-pk",)
    default_sort: str = ""
    table: tuple[TableColumn, ...] = ()
    export_columns: Callable = None
    export_name = "export"
    paginate_by = 50
    template_name = "enterprises/record_list.html"
    # Filters shown in the bar (all of the FilterSet's by default); the others still work in URLs.
    shown_filters: tuple[str, ...] | None = None
    # Applied when the URL does not mention the filter at all (e.g. open duplicates first).
    default_filters: dict[str, str] = {}
    # Large lists (KPI readings, adoptions, attendance): paged by position with Next/Previous and a
    # count capped at LIST_COUNT_LIMIT, so that page 1,000 costs what page 1 costs (core.lists).
    keyset = False

    def base_queryset(self):
        return self.model.objects.visible_to(self.request.user).select_related(*self.related)

    def extra_context(self) -> dict[str, Any]:
        return {}

    @classmethod
    def sort_spec(cls) -> SortSpec:
        keys = {
            column.sort_key: column.sort_by or (column.sort_key,) for column in cls.table if column.sort_key
        }
        return SortSpec(keys, default=cls.default_sort, fallback=cls.ordering)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        data = request.GET.copy()
        for name, value in self.default_filters.items():
            data.setdefault(name, value)
        filterset = self.filterset_class(data or None, queryset=self.base_queryset(), request=request)
        listing = Listing(
            request,
            sort=self.sort_spec(),
            per_page=self.paginate_by,
            defaults=self.default_filters,
            keyset=self.keyset,
        )
        queryset = listing.order(filterset.qs)
        file_format = request.GET.get("export")
        if file_format in {"csv", "xlsx"}:
            return export_or_refuse(
                request,
                queryset,
                self.export_columns(request.user),
                file_format,
                self.export_name,
                title=str(self.title),
            )
        context = listing.page(queryset)
        page = context["page_obj"]
        rows = [
            (
                obj,
                [
                    (column, column.value(obj), column.link(obj) if column.link else "")
                    for column in self.table
                ],
            )
            for obj in page.object_list
        ]
        form = style_form(filterset.form)
        shown = [
            name
            for name in (self.shown_filters or tuple(form.fields))
            # A PO's own staff have one PO to choose from: no need to show the choice.
            if name != "partner_organization" or request.user.sees_whole_programme
        ]
        return render(
            request,
            self.template_name,
            {
                "title": self.title,
                "intro": self.intro,
                "nothing_yet": self.nothing_yet,
                "filter_form": form,
                "filter_fields": [form[name] for name in shown if name in form.fields],
                "table": self.table,
                "rows": rows,
                **context,
                **self.extra_context(),
            },
        )


def _by_whom_when(user, on) -> str:
    return _("by %(who)s on %(date)s") % {
        "who": user.get_display_name() if user else _("someone no longer registered"),
        "date": format_date(on, "DATE_FORMAT"),
    }


def verification_text(adoption: Adoption) -> str:
    """How an adoption's state is shown in lists and on the ME page (select `verified_by` with it)."""
    if adoption.is_verified_independently:
        return _("verified %(by)s") % {"by": _by_whom_when(adoption.verified_by, adoption.verified_on)}
    if adoption.is_verified:
        return _("recorded as verified %(by)s, not independently: awaiting verification") % {
            "by": _by_whom_when(adoption.verified_by, adoption.verified_on)
        }
    return _("reported, not yet verified")


def confirmation_text(facility: CommonServiceFacility) -> str:
    if facility.operational_confirmed_on:
        return _("operation confirmed %(by)s") % {
            "by": _by_whom_when(facility.operational_confirmed_by, facility.operational_confirmed_on)
        }
    if facility.awaits_confirmation:
        return _("reported operational, awaiting confirmation")
    return ""
