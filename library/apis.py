"""The library's API: upload a PDF, list the organization's documents, follow one's ingestion.

Views parse and validate, call one service or selector, and serialize; errors are raised as
core.errors exceptions and rendered by the one exception handler.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DocumentNotFound, PayloadTooLarge
from library.models import Document
from library.progress import document_progress, ingest_worker_last_seen
from library.selectors import document_get, documents_for_org
from library.services import document_upload, upload_too_large
from orgs.authentication import api_user
from topics.selectors import topics_resolve

# Room for the multipart envelope around a file of exactly MAX_UPLOAD_MB.
_MULTIPART_OVERHEAD = 64 * 1024


class _LibraryErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Machine-readable error code.")
    message = serializers.CharField(help_text="One readable sentence.")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=_LibraryErrorSerializer, description=description)


class DocumentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source_name = serializers.CharField(help_text="The file name answers cite.")
    version = serializers.IntegerField(
        help_text="The newest upload's version: 1, then one more for each new file under this source_name."
    )
    status = serializers.ChoiceField(choices=Document.Status.values, help_text="Where the newest upload stands.")
    status_line = serializers.CharField(help_text='e.g. "Queued: 2 documents ahead of this one".')
    error = serializers.CharField(help_text="Why ingestion failed; empty otherwise.")
    pages_done = serializers.IntegerField()
    pages_total = serializers.IntegerField(allow_null=True, help_text="Known once the worker has opened the PDF.")
    percent = serializers.IntegerField()
    eta_seconds = serializers.IntegerField(allow_null=True, help_text="While processing: estimated seconds left.")
    queue_position = serializers.IntegerField(allow_null=True, help_text="While queued: documents ahead of it.")
    worker_running = serializers.BooleanField(help_text="An ingestion worker has been seen in the last 90 s.")
    live_version = serializers.IntegerField(
        allow_null=True,
        help_text="The version that answers questions and whose pages and file the library serves; it changes "
        "only when a newer version is ready, so a failed upload leaves it live. Null until one is ready.",
    )
    live_pages_total = serializers.IntegerField(allow_null=True, help_text="Pages of the live version.")
    topics = serializers.ListField(child=serializers.CharField())
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    queued_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def _document_out(document: Document, worker_last_seen: Any = False) -> dict[str, Any]:
    progress = document_progress(document=document, worker_last_seen=worker_last_seen)
    return DocumentOutputSerializer(
        {
            "id": document.pk,
            "source_name": document.source_name,
            "version": document.version,
            "status": progress.status,
            "status_line": progress.status_line,
            "error": progress.error,
            "pages_done": progress.pages_done,
            "pages_total": progress.pages_total,
            "percent": progress.percent,
            "eta_seconds": progress.eta_seconds,
            "queue_position": progress.queue_position,
            "worker_running": progress.worker_running,
            "live_version": progress.live_version,
            "live_pages_total": progress.live_pages_total,
            "topics": sorted(topic.name for topic in document.topics.all()),
            "size_bytes": document.size_bytes,
            "sha256": document.sha256,
            "queued_at": document.queued_at,
            "started_at": document.started_at,
            "finished_at": document.finished_at,
        }
    ).data


class DocumentListApi(APIView):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        # Empty files reach document_upload, which words the refusal as every way in does.
        file = serializers.FileField(
            allow_empty_file=True, help_text=f"The PDF (at most MAX_UPLOAD_MB, {settings.MAX_UPLOAD_MB} MB here)."
        )
        topic_names = serializers.ListField(
            child=serializers.CharField(max_length=100),
            required=False,
            default=list,
            help_text="Topics to file it under (repeat the field for several); matched case-insensitively.",
        )

    @extend_schema(
        operation_id="library_documents_list",
        summary="The organization's documents with their ingestion status",
        responses={200: DocumentOutputSerializer(many=True), 401: _error("`authentication_failed`.")},
    )
    def get(self, request: Request) -> Response:
        last_seen = ingest_worker_last_seen()
        documents = documents_for_org(org=api_user(request).org)
        return Response([_document_out(document, last_seen) for document in documents])

    @extend_schema(
        operation_id="library_documents_upload",
        summary="Upload a PDF; it is ingested in the background",
        request={"multipart/form-data": InputSerializer},
        responses={
            202: OpenApiResponse(DocumentOutputSerializer, description="Stored and queued for ingestion."),
            200: OpenApiResponse(
                DocumentOutputSerializer,
                description="Nothing queued: these bytes are already in the library (that document is returned).",
            ),
            400: _error(
                "`invalid_request` (see `details`; an empty file too) or `unknown_topic` (+ `unknown_topics`)."
            ),
            401: _error("`authentication_failed`."),
            413: _error("`payload_too_large`: the file is over MAX_UPLOAD_MB."),
            415: _error("`unsupported_media_type`: the file is not a PDF. Nothing is stored."),
        },
    )
    def post(self, request: Request) -> Response:
        # Refuse an oversized body from its declared length, before reading it.
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and upload_too_large(int(declared), envelope_bytes=_MULTIPART_OVERHEAD):
            raise PayloadTooLarge.file_too_large()
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        org = api_user(request).org
        names = serializer.validated_data["topic_names"]
        topics = topics_resolve(org=org, names=names) if names else []
        result = document_upload(org=org, filename=upload.name, data=upload.read(), topics=topics)
        code = status.HTTP_202_ACCEPTED if result.queued else status.HTTP_200_OK
        return Response(_document_out(result.document), status=code)


class DocumentDetailApi(APIView):
    @extend_schema(
        operation_id="library_documents_retrieve",
        summary="One document's ingestion status and progress",
        responses={
            200: DocumentOutputSerializer,
            401: _error("`authentication_failed`."),
            404: _error("`document_not_found`: no such document in this organization."),
        },
    )
    def get(self, request: Request, document_id: int) -> Response:
        document = document_get(org=api_user(request).org, document_id=document_id)
        if document is None:
            raise DocumentNotFound()
        return Response(_document_out(document))
