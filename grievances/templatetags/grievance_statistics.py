"""The PMU dashboard's grievance panel (templates/grievances/_dashboard_panel.html): its figures are
read here, for whoever may see grievance statistics (grievances.statistics.may_see_statistics), so
the dashboard view needs no change. Three COUNT queries on indexed columns."""

from django import template

from grievances import statistics

register = template.Library()


@register.inclusion_tag("grievances/_dashboard_panel.html", takes_context=True)
def grievance_dashboard_panel(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"panel": statistics.dashboard_panel(user) if user is not None else None}
