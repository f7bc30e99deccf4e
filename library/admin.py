"""Admin for the library: upload through the same service as every other way in.

Org admins see only their organizations' documents and chunks (OrgScopedAdmin). Chunks are
read-only: they are made by ingestion, never by hand.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from core.errors import ApplicationError
from library.models import Chunk, Document
from library.progress import document_progress
from library.services import clean_source_name, document_delete, document_reingest, document_upload, upload_check
from orgs.admin import OrgScopedAdmin
from topics.models import Topic


class DocumentAddForm(forms.ModelForm):
    refusal_status: int | None = None  # 413, 400 or 415 when the upload contract refuses the file

    file = forms.FileField(
        allow_empty_file=True,  # refused by upload_check, in the words every way in uses
        help_text="A PDF. The same file again returns the document that already has it.",
    )

    class Meta:
        model = Document
        fields = ["org", "file", "topics"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None:
            head = upload.read(1024)
            upload.seek(0)
            try:
                upload_check(size=upload.size, head=head)
                clean_source_name(upload.name)
            except ApplicationError as error:
                self.refusal_status = error.http_status
                self.add_error("file", error.message)
        org = cleaned.get("org")
        foreign = [t.name for t in cleaned.get("topics", []) if org is not None and t.org_id != org.pk]
        if foreign:
            self.add_error("topics", f"These topics belong to another organization: {', '.join(foreign)}.")
        return cleaned


@admin.register(Document)
class DocumentAdmin(OrgScopedAdmin):
    list_display = [
        "source_name",
        "org",
        "live_version",
        "version",
        "status",
        "pages",
        "progress",
        "queued_at",
        "finished_at",
    ]
    list_filter = ["status", "org"]
    search_fields = ["source_name"]
    actions = ["reingest"]
    readonly_fields = [
        "org",
        "source_name",
        "live_version",
        "live_file",
        "live_pages_total",
        "version",
        "file",
        "sha256",
        "size_bytes",
        "status",
        "progress",
        "pages_done",
        "pages_total",
        "error",
        "uploaded_by",
        "queued_at",
        "started_at",
        "finished_at",
    ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """An upload the contract refuses answers with its status (413/400/415), as the API does."""
        response = super().add_view(request, form_url, extra_context)
        adminform = (getattr(response, "context_data", None) or {}).get("adminform")
        refusal = getattr(getattr(adminform, "form", None), "refusal_status", None)
        if refusal:
            response.status_code = refusal
        return response

    def get_form(self, request: HttpRequest, obj: Document | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = DocumentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Document | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("org", "file", "topics")
        return (*self.readonly_fields, "topics")

    def get_readonly_fields(self, request: HttpRequest, obj: Document | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "topics" and not request.user.is_superuser:
            kwargs["queryset"] = Topic.objects.filter(org_id__in=self._org_ids(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="pages")
    def pages(self, obj: Document) -> str:
        return f"{obj.pages_done}/{obj.pages_total}" if obj.pages_total else "–"

    @admin.display(description="progress")
    def progress(self, obj: Document) -> str:
        return document_progress(document=obj).status_line

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        upload = form.cleaned_data["file"]
        try:
            result = document_upload(
                org=form.cleaned_data["org"],
                filename=upload.name,
                data=upload.read(),
                topics=form.cleaned_data["topics"],
                uploaded_by=request.user if isinstance(request.user, User) else None,
            )
        except ApplicationError as error:  # DocumentAddForm.clean checked what the service refuses
            raise forms.ValidationError(error.message) from None
        document = result.document
        obj.__dict__.update({k: v for k, v in document.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False
        if not result.queued:
            messages.warning(request, f"{document.source_name} is already in the library (same file); nothing to do.")
        else:
            messages.info(request, f"{document.source_name} (version {document.version}) is queued for ingestion.")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:  # on add, document_upload already filed the document under its topics
            super().save_related(request, form, formsets, change)

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        document_delete(document=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            document_delete(document=document)

    @admin.action(description="Re-ingest the selected documents")
    def reingest(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        count = 0
        for document in queryset:
            document_reingest(document=document)
            count += 1
        messages.info(request, f"{count} document{'s' if count != 1 else ''} queued for ingestion again.")


@admin.register(Chunk)
class ChunkAdmin(OrgScopedAdmin):
    list_display = ["document", "page", "ordinal", "token_count"]
    list_filter = ["org"]
    search_fields = ["document__source_name", "text"]
    fields = readonly_fields = ("document", "org", "page", "ordinal", "token_count", "text")
    list_select_related = ["document"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
