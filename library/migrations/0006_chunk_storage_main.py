"""A chunk's tsvector and embedding kept in its row, not in TOAST.

Searching a scope row by row reads every row's tsvector and embedding; from TOAST each costs
three or four more buffer reads (bench/scale.py at 1M chunks). With STORAGE MAIN, Postgres
compresses or moves the text out of the row first and keeps these two in it unless a row
cannot fit a page. Rows written before this migration keep their layout until rewritten.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0005_document_ocr_pages"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE library_chunk ALTER COLUMN search_vector SET STORAGE MAIN,"
            " ALTER COLUMN embedding SET STORAGE MAIN",
            reverse_sql="ALTER TABLE library_chunk ALTER COLUMN search_vector SET STORAGE EXTENDED,"
            " ALTER COLUMN embedding SET STORAGE EXTERNAL",
        ),
    ]
