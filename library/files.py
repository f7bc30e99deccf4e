"""A document's stored PDF files: deleted only once the transaction that drops them commits."""

from django.db import transaction
from django.db.models.fields.files import FieldFile

from library.models import Document


def file_delete_on_commit(file: FieldFile) -> None:
    """Delete a stored file when the transaction commits; a rollback keeps it."""
    storage, name = file.storage, file.name
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def file_delete_unless_live(document: Document, file: FieldFile) -> None:
    """Delete a stored file once the transaction commits, unless the live version uses it."""
    if file.name != document.live_file.name:
        file_delete_on_commit(file)
