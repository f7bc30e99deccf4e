"""API routes of the library app (included at /library/)."""

from django.urls import path

from library import apis

urlpatterns = [
    path("documents/", apis.DocumentListApi.as_view(), name="library-documents"),
    path("documents/<int:document_id>/", apis.DocumentDetailApi.as_view(), name="library-document"),
]
