from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("safeguards", "0002_exclusion_list")]

    operations: list = []
