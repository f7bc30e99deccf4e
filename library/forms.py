"""Forms of the library pages."""

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from orgs.models import Organization
from topics.models import Topic
from topics.selectors import topic_list

MAX_FILES_PER_UPLOAD = 50


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
            super().clean(upload, initial)
            head = upload.read(1024)
            upload.seek(0)
            if b"%PDF-" not in head:
                errors.append(f"{upload.name} is not a PDF.")
        if errors:
            raise forms.ValidationError(errors)
        return list(files)


class UploadForm(forms.Form):
    # Django's form metaclass moves declared fields off the class, so this never shadows
    # BaseForm.files at run time; the stubs cannot express that. "files" is the input's name.
    files = MultiplePdfField(label="PDF files")  # type: ignore[assignment]
    topic = forms.ModelChoiceField(queryset=Topic.objects.none(), required=False, empty_label="(no topic)")

    def __init__(self, *args: Any, org: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = topic_list(org=org)  # type: ignore[attr-defined]
