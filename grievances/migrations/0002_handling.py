from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("grievances", "0001_initial")]

    operations: list = []
