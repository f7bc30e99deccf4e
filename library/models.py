from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from orgs.models import Organization
from topics.models import Topic


def document_upload_path(document: "Document", filename: str) -> str:
    # One folder per org; the sha keeps versions of one source_name apart on disk.
    return f"documents/{document.org_id}/{document.sha256[:16]}/{filename}"


class Document(models.Model):
    """A datasheet in an org's library, under one source_name, through its versions.

    `file`, `sha256`, `version`, `status` and the progress fields describe the newest upload
    (queued, processing, ready or failed). The `live_*` fields describe the version whose
    chunks answer questions and whose pages and file the library serves; it changes only
    when a newer version is ready, so a failed re-upload leaves the previous version live.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="documents")
    topics = models.ManyToManyField(Topic, blank=True, related_name="documents")
    file = models.FileField(upload_to=document_upload_path, max_length=500)
    source_name = models.CharField(max_length=255, help_text="The file name shown in citations.")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    pages_total = models.PositiveIntegerField(null=True, blank=True)
    pages_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    ocr_pages = models.JSONField(
        default=list, blank=True, help_text="The pages of the newest version read by OCR (1-based), as read so far."
    )
    page_problems = models.JSONField(
        default=list, blank=True, help_text='Pages of the newest version that could not be read: [{"page", "problem"}].'
    )
    ocr_pages_expected = models.PositiveIntegerField(
        default=0, help_text="Pages of the newest version that OCR is to read, as found when its ingestion started."
    )
    ocr_pages_tried = models.PositiveIntegerField(
        default=0, help_text="Of those, the pages OCR has finished (read, or given up on) so far."
    )
    ocr_seconds = models.FloatField(default=0.0, help_text="Seconds OCR has taken on those pages so far.")
    live_version = models.PositiveIntegerField(null=True, blank=True, help_text="The version that answers; none yet.")
    live_file = models.FileField(upload_to=document_upload_path, max_length=500, blank=True)
    live_sha256 = models.CharField(max_length=64, blank=True)
    live_pages_total = models.PositiveIntegerField(null=True, blank=True)
    live_ocr_pages = models.JSONField(default=list, blank=True, help_text="The live version's pages read by OCR.")
    pipeline_version = models.PositiveIntegerField(
        default=0, help_text="The ingestion pipeline that made the live version's chunks."
    )
    profile = models.TextField(
        blank=True, help_text="What the live version says the part is: its title and defining paragraph."
    )
    profile_embedding = VectorField(dimensions=384, null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "source_name"], name="document_source_name_unique_per_org"),
            models.UniqueConstraint(fields=["org", "sha256"], name="document_sha256_unique_per_org"),
        ]
        indexes = [models.Index(fields=["status", "queued_at"], name="document_status_queued_idx")]
        ordering = ["source_name"]

    def __str__(self) -> str:
        return self.source_name

    @property
    def is_live(self) -> bool:
        return self.live_version is not None

    @property
    def served_file(self) -> "models.fields.files.FieldFile":
        """The PDF the library shows: the live version's, or the only upload there is."""
        return self.live_file if self.is_live else self.file

    @property
    def served_sha256(self) -> str:
        return self.live_sha256 if self.is_live else self.sha256

    @property
    def served_pages_total(self) -> int | None:
        return self.live_pages_total if self.is_live else self.pages_total

    @property
    def has_pending_version(self) -> bool:
        """A newer upload that is not live: queued, processing or failed."""
        return self.is_live and self.version != self.live_version


class Chunk(models.Model):
    """A passage of one page of one document. Chunks never cross a page."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    page = models.PositiveIntegerField(help_text="1-based, as a PDF viewer numbers pages.")
    ordinal = models.PositiveIntegerField(help_text="Position of the chunk within its document.")
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    embedding = VectorField(dimensions=384)
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_document_ordinal_unique"),
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
            models.Index(fields=["document", "page"], name="chunk_document_page_idx"),
            models.Index(fields=["org"], name="chunk_org_idx"),
        ]
        ordering = ["document_id", "ordinal"]

    def __str__(self) -> str:
        return f"{self.document_id} p.{self.page} #{self.ordinal}"


class PageUnits(models.Model):
    """Where each indexed line of one page of the live version stands on the page, so the
    library page can outline on the page's image the rows an answer quoted."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="page_units")
    page = models.PositiveIntegerField(help_text="1-based.")
    units = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"text", "box": [x0, top, x1, bottom]}] in reading order; boxes in fractions of the page.',
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "page"], name="page_units_document_page_unique")]

    def __str__(self) -> str:
        return f"{self.document_id} p.{self.page}: {len(self.units)} units"


class IngestWorker(models.Model):
    """A Celery worker that ingests documents, as last seen by its own heartbeat.

    Lets a document's status say "no ingestion worker is running" instead of sitting in
    the queue with no word why.
    """

    name = models.CharField(max_length=255, unique=True, help_text="The Celery node name, e.g. celery@host.")
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return self.name
