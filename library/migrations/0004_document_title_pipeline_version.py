from django.db import migrations, models


class Migration(migrations.Migration):
    """Documents ingested before these fields were made by pipeline 1 (pypdf's flat text), untitled."""

    dependencies = [("library", "0003_document_live_version")]

    operations = [
        migrations.AddField(
            model_name="document",
            name="title",
            field=models.CharField(
                blank=True,
                help_text="The live version's own title, from its first page's largest type.",
                max_length=200,
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="pipeline_version",
            field=models.PositiveIntegerField(
                default=0, help_text="The ingestion pipeline that made the live version's chunks."
            ),
        ),
        migrations.RunPython(
            lambda apps, schema_editor: apps.get_model("library", "Document")
            .objects.filter(live_version__isnull=False)
            .update(pipeline_version=1),
            migrations.RunPython.noop,
        ),
    ]
