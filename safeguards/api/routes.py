from safeguards.api import incident_routes, review_routes, screening_routes

ROUTES = [*review_routes.ROUTES, *screening_routes.ROUTES, *incident_routes.ROUTES]
