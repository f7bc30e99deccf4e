from django.db import migrations, models
from django.db.models import F

import library.models


def mark_live_versions(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Documents with chunks answer from them today: that is their live version.

    Before this migration a new version overwrote the document's file field, so the best
    record of the live version is the current one.
    """
    Document = apps.get_model("library", "Document")
    Chunk = apps.get_model("library", "Chunk")
    with_chunks = Chunk.objects.values("document_id")
    Document.objects.filter(pk__in=with_chunks).update(
        live_version=F("version"), live_file=F("file"), live_sha256=F("sha256"), live_pages_total=F("pages_total")
    )


class Migration(migrations.Migration):
    dependencies = [("library", "0002_ingest_worker")]

    operations = [
        migrations.AddField(
            model_name="document",
            name="live_version",
            field=models.PositiveIntegerField(blank=True, help_text="The version that answers; none yet.", null=True),
        ),
        migrations.AddField(
            model_name="document",
            name="live_file",
            field=models.FileField(blank=True, max_length=500, upload_to=library.models.document_upload_path),
        ),
        migrations.AddField(
            model_name="document",
            name="live_sha256",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="document",
            name="live_pages_total",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(mark_live_versions, migrations.RunPython.noop),
    ]
