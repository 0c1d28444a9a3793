from core import export_jobs, navigation, outbox


def portal(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_menu": []}
    return {
        "nav_menu": navigation.menu_for(user),
        "background_delayed": outbox.delayed_count(),
        # The user's exports ready and not yet seen: queried only if the page shows them, once.
        "downloads_ready": export_jobs.ready_notice(request),
    }
