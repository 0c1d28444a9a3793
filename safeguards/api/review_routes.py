from safeguards.api import review_views

ROUTES: list = [
    ("exclusion-items", review_views.ExclusionItemViewSet, "exclusion-item"),
    ("es-reviews", review_views.EsReviewViewSet, "es-review"),
]
