from django.contrib.postgres.operations import CreateExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pgvector must exist before any app creates a vector column."""

    initial = True
    dependencies: list = []
    operations = [CreateExtension("vector")]
