"""Forms of the library pages."""

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from core.errors import ApplicationError
from library.services import MAX_FILES_PER_UPLOAD, upload_check
from orgs.models import Organization
from topics.models import Topic
from topics.selectors import topic_list


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePdfField(forms.FileField):
    """One or more PDFs; every file is checked before any is stored, so a bad batch stores nothing."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not files:
            raise forms.ValidationError("Choose at least one PDF.")
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(f"Upload at most {MAX_FILES_PER_UPLOAD} files at a time.")
        errors = []
        for upload in files:
            head = upload.read(1024)
            upload.seek(0)
            try:
                upload_check(size=upload.size, head=head)
            except ApplicationError as refusal:
                errors.append(forms.ValidationError(f"{upload.name}: {refusal.message}", code=str(refusal.http_status)))
        if errors:
            raise forms.ValidationError(errors)
        return list(files)


class UploadForm(forms.Form):
    """The library page's upload: every file must pass the upload contract before any is stored."""

    # Django's form metaclass moves declared fields off the class, so this never shadows
    # BaseForm.files at run time; the stubs cannot express that. "files" is the input's name.
    files = MultiplePdfField(label="PDF files")  # type: ignore[assignment]
    topic = forms.ModelChoiceField(queryset=Topic.objects.none(), required=False, empty_label="(no topic)")

    def __init__(self, *args: Any, org: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = topic_list(org=org)  # type: ignore[attr-defined]

    def refusal_status(self) -> int:
        """The HTTP status of the worst refusal: 413 or 415 from the upload contract, else 400."""
        codes = [error.code for error in self.errors.as_data().get("files", [])]
        statuses = [int(code) for code in codes if code and code.isdigit()]
        return max(statuses, default=400)
