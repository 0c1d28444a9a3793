from grievances.api import handling_routes, statistics_routes

ROUTES = [*handling_routes.ROUTES, *statistics_routes.ROUTES]
