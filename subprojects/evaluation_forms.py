"""Forms of the technical evaluation (rubric, meetings, conflict declarations, scoring, decisions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BoundField
from django.utils.translation import gettext_lazy as _

from core.models import User
from core.roles import GROUP_NAMES, Role
from subprojects import workflow
from subprojects.evaluation import OUTCOME_BY_ACTION, chair_error, weights_error
from subprojects.forms import DATETIME_INPUT, RowForm
from subprojects.models import Criterion, DecisionOutcome, Proposal, ProposalStatus, Rubric, TecMeeting


class RubricForm(forms.ModelForm):
    class Meta:
        model = Rubric
        fields = ["pass_mark", "spread_threshold"]


class CriterionForm(RowForm):
    class Meta:
        model = Criterion
        fields = ["name", "guidance", "weight", "max_score"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "guidance": _(
                "Shown to the scorers beside the score. To describe the score levels, write one per line, "
                "e.g. “0-3: no link to RECP”; otherwise the standard scale is shown (not addressed, weak, "
                "adequate, good, excellent)."
            )
        }


# --- Score levels ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreLevel:
    """What a range of scores means on one criterion: scores above the level before, up to `high`."""

    low: Decimal
    high: Decimal
    text: str

    @property
    def label(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}\u2013{self.high:g}"


# "0-3: no link", "4 to 6 = partial", "10) strong" (hyphen, en or em dash): a range or one score, and
# what it means.
LEVEL_LINE = re.compile(
    r"^\s*(?P<low>\d+(?:[.,]\d+)?)\s*(?:(?:[-\u2013\u2014]|to)\s*(?P<high>\d+(?:[.,]\d+)?))?\s*[:=)]\s*(?P<text>\S.*)$"
)

# The standard scale: each level up to this share of the maximum score.
STANDARD_SCALE = [
    (Decimal("0"), _("not addressed")),
    (Decimal("0.3"), _("weak")),
    (Decimal("0.6"), _("adequate")),
    (Decimal("0.8"), _("good")),
    (Decimal("1"), _("excellent")),
]


def _number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _written_levels(guidance: str, max_score: int) -> tuple[list[ScoreLevel], str]:
    """The levels the PMU wrote in the guidance (one per line), and the rest of the guidance; no levels
    unless at least two lines read as levels, in order and within 0 to the maximum."""
    levels: list[ScoreLevel] = []
    rest: list[str] = []
    for line in guidance.splitlines():
        match = LEVEL_LINE.match(line)
        low = _number(match["low"]) if match else None
        high = _number(match["high"]) if match and match["high"] else low
        if match and low is not None and high is not None and low <= high <= max_score:
            levels.append(ScoreLevel(low, high, match["text"].strip()))
        else:
            rest.append(line)
    ordered = all(a.high < b.low for a, b in pairwise(levels))
    if len(levels) < 2 or not ordered:
        return [], guidance.strip()
    return levels, "\n".join(rest).strip()


def standard_levels(max_score: int) -> list[ScoreLevel]:
    """The standard scale on whole scores from 0 to `max_score` (levels left empty by a small maximum
    are skipped): 0 to 10 reads 0 not addressed, 1-3 weak, 4-6 adequate, 7-8 good, 9-10 excellent."""
    levels = []
    low = Decimal("0")
    for share, text in STANDARD_SCALE:
        high = Decimal(int(share * max_score))
        if high >= low:
            levels.append(ScoreLevel(low, high, str(text)))
            low = high + 1
    return levels


def score_levels(criterion: Criterion) -> tuple[list[ScoreLevel], str]:
    """What each range of scores means on `criterion`, and the guidance to show beside them: the levels
    written in the rubric's guidance, or the standard scale."""
    written, guidance = _written_levels(criterion.guidance or "", criterion.max_score)
    return (written or standard_levels(criterion.max_score)), guidance


@dataclass
class ScoreRow:
    """One criterion of the score sheet, as the scoring form shows it."""

    criterion: Criterion
    score: BoundField
    comment: BoundField
    levels: list[ScoreLevel]
    guidance: str


class BaseCriterionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not rows:
            raise ValidationError(_("A rubric needs at least one criterion."))
        error = weights_error(rows)
        if error:
            raise ValidationError(error)


CriterionFormSet = forms.inlineformset_factory(
    Rubric, Criterion, form=CriterionForm, formset=BaseCriterionFormSet, extra=2, can_delete=True
)


def tec_members():
    return User.objects.filter(groups__name=GROUP_NAMES[Role.TEC_MEMBER], is_active=True).order_by(
        "last_name", "username"
    )


class TecMeetingForm(forms.ModelForm):
    """The PMU plans the meeting; who attends is the chair's to record (AttendanceForm)."""

    class Meta:
        model = TecMeeting
        fields = ["number", "held_on", "venue", "chair", "members", "notes"]
        widgets = {
            "held_on": DATETIME_INPUT,
            "members": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("chair", "members"):
            self.fields[name].queryset = tec_members()
            self.fields[name].label_from_instance = lambda user: user.get_display_name()

    def clean(self):
        cleaned = super().clean()
        error = chair_error(cleaned.get("chair"), cleaned.get("members"))
        if error:
            self.add_error("chair", error)
        return cleaned


class AttendanceForm(forms.Form):
    """Who of the meeting's members is present: every member listed, none ticked until the chair
    says so (a correction starts from the attendance as recorded)."""

    present = forms.ModelMultipleChoiceField(
        label=_("Present"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick the members who are present: at least one.")},
    )
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["present"].queryset = members
        self.fields["present"].label_from_instance = lambda user: user.get_display_name()


class AgendaForm(forms.Form):
    proposal = forms.ModelChoiceField(queryset=Proposal.objects.none(), label=_("Proposal to add"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposal"].queryset = Proposal.objects.filter(
            status=ProposalStatus.SUBMITTED
        ).select_related("partner_organization")
        self.fields["proposal"].label_from_instance = lambda p: (
            f"{p.reference} · {p.partner_organization.code} · {p.title}"
        )


class DeclarationForm(forms.Form):
    has_conflict = forms.TypedChoiceField(
        label=_("Do you have a conflict of interest with this proposal or its PO?"),
        choices=[
            ("no", _("No, I have no conflict of interest")),
            ("yes", _("Yes, I have a conflict of interest")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    explanation = forms.CharField(
        label=_("If yes: what is the conflict?"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("has_conflict") and not cleaned.get("explanation", "").strip():
            self.add_error("explanation", _("Say what the conflict of interest is."))
        return cleaned


class ScoreSheetForm(forms.Form):
    """One score and comment per criterion of the rubric, plus an overall comment."""

    comment = forms.CharField(
        label=_("Overall comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, criteria: list[Criterion], initial_scores: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        initial_scores = initial_scores or {}
        for criterion in criteria:
            value, comment = initial_scores.get(criterion.pk, (None, ""))
            self.fields[f"score_{criterion.pk}"] = forms.DecimalField(
                label=criterion.name,
                required=False,
                min_value=Decimal("0"),
                max_value=Decimal(criterion.max_score),
                decimal_places=2,
                initial=value,
                help_text=_("0 to %(max)s · weight %(weight)s%%")
                % {"max": criterion.max_score, "weight": f"{criterion.weight:g}"},
            )
            self.fields[f"comment_{criterion.pk}"] = forms.CharField(
                label=_("Comment on %(name)s") % {"name": criterion.name},
                required=False,
                initial=comment,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def rows(self) -> list[ScoreRow]:
        rows = []
        for criterion in self.criteria:
            levels, guidance = score_levels(criterion)
            rows.append(
                ScoreRow(
                    criterion,
                    self[f"score_{criterion.pk}"],
                    self[f"comment_{criterion.pk}"],
                    levels,
                    guidance,
                )
            )
        return rows

    def values(self) -> dict[int, tuple[Decimal | None, str]]:
        return {
            c.pk: (
                self.cleaned_data.get(f"score_{c.pk}"),
                self.cleaned_data.get(f"comment_{c.pk}", "").strip(),
            )
            for c in self.criteria
        }


class ActingChairForm(forms.Form):
    """Names the member who holds the chair's powers on one agenda item (see evaluation.presides)."""

    acting_chair = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Acting chair for this proposal"),
        empty_label=_("None: the meeting's chair"),
    )
    reason = forms.CharField(
        label=_("Why (goes in the minutes)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, candidates: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["acting_chair"]
        field.queryset = User.objects.filter(pk__in=[member.pk for member in candidates]).order_by(
            "last_name", "username"
        )
        field.label_from_instance = lambda user: user.get_display_name()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("acting_chair") and not cleaned.get("reason", "").strip():
            self.add_error("reason", _("Say why an acting chair is needed (it goes in the minutes)."))
        return cleaned


OUTCOME_ACTIONS = {outcome: action for action, outcome in OUTCOME_BY_ACTION.items()}


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("The committee's decision"), choices=DecisionOutcome.choices, widget=forms.RadioSelect
    )
    text = forms.CharField(
        label=_("Reasons, or what the PO must revise"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for “revision requested” and “not recommended”."),
    )
    conditions = forms.CharField(
        label=_("Conditions (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required for “recommended with conditions”. The award waits until each is met."),
    )
    override_reason = forms.CharField(
        label=_("Chair's override: why decide without every member's scores"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, allow_override: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_override:
            self.fields.pop("override_reason")

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        if outcome == DecisionOutcome.RECOMMENDED_WITH_CONDITIONS and not self.condition_list():
            self.add_error("conditions", _("List the conditions of the recommendation."))
        if (
            outcome in OUTCOME_ACTIONS
            and workflow.get_rule(Proposal, OUTCOME_ACTIONS[outcome]).comment_required
            and not cleaned.get("text", "").strip()
        ):
            self.add_error("text", _("Say why, or what the PO must revise."))
        return cleaned

    def condition_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("conditions", "").splitlines() if line.strip()]

    @property
    def action(self) -> str:
        return OUTCOME_ACTIONS[self.cleaned_data["outcome"]]
