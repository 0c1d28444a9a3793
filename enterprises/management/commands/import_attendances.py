from enterprises.management.commands._import import ImportCommand


class Command(ImportCommand):
    kind = "attendances"
