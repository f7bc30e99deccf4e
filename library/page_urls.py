"""Web page routes of the library app, under `/{org_name}/library`."""

from django.urls import path

from library import views

urlpatterns = [
    path("<str:org_name>/library", views.library_page, name="library-page"),
    path("<str:org_name>/library/progress", views.library_progress, name="library-progress"),
    path("<str:org_name>/library/upload", views.library_upload, name="library-upload"),
    path(
        "<str:org_name>/library/documents/<int:document_id>/reingest",
        views.document_confirm,
        {"action": "reingest"},
        name="library-document-reingest",
    ),
    path(
        "<str:org_name>/library/documents/<int:document_id>/delete",
        views.document_confirm,
        {"action": "delete"},
        name="library-document-delete",
    ),
    path("<str:org_name>/library/documents/<int:document_id>/file.pdf", views.document_pdf, name="library-pdf"),
    path(
        "<str:org_name>/library/documents/<int:document_id>/pages/<int:page>.png",
        views.page_image,
        name="library-page-image",
    ),
]
