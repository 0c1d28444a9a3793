from finance.api import (
    ifr_routes,
    portfolio_routes,
    rate_routes,
    release_routes,
    scorecard_routes,
    spending_routes,
)

ROUTES = [
    *release_routes.ROUTES,
    *spending_routes.ROUTES,
    *portfolio_routes.ROUTES,
    *ifr_routes.ROUTES,
    *scorecard_routes.ROUTES,
    *rate_routes.ROUTES,
]
