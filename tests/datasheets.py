"""The real datasheets, ingested once per test session by the real pipeline.

Ingesting ten datasheets takes a minute or two of embedding, so the suite runs
`document_ingest` on each PDF once, keeps the resulting rows in memory, and restores them
(a bulk insert) whenever a test needs the library and a transactional test has emptied
the database since.
"""

import hashlib
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

DATASHEETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasheets"
DATASHEET_ORG = "Datasheets"
DATASHEET_TOPICS = {
    "Sensors": ["bosch-bme280.pdf", "st-lsm6ds33.pdf", "adi-adxl345.pdf"],
    "Data converters": ["ti-ads1115.pdf"],
    "Interface": ["microchip-mcp2515.pdf", "ftdi-ft232r.pdf", "nxp-pca9685.pdf"],
    "Power": ["infineon-irf540n.pdf", "renesas-icl7660.pdf"],
    "Wireless": ["espressif-esp32-wroom-32.pdf"],
}


@dataclass
class DocumentSnapshot:
    source_name: str
    file_name: str
    sha256: str
    size_bytes: int
    pages_total: int
    chunks: list[dict]
    profile: str = ""
    profile_embedding: list[float] | None = None
    pipeline_version: int = 0
    ocr_pages: list[int] = field(default_factory=list)
    page_units: dict[int, list] = field(default_factory=dict)  # page → PageUnits.units


def datasheet_paths() -> list[Path]:
    return sorted(DATASHEETS.glob("*.pdf"))


def _pipeline_fingerprint() -> str:
    """Changes whenever the PDFs or the code that turns them into chunks change."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    pipeline = ["embeddings.py", "model_spec.py", "onnx_encoder.py", "ingest.py", "services.py", "models.py"]
    code = [root / "library" / name for name in pipeline] + sorted((root / "library" / "parsing").glob("*.py"))
    code.append(Path(__file__).resolve())  # the snapshot's own shape
    for path in [*datasheet_paths(), *(path for path in code if path.exists())]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def snapshot_ingestion() -> list[DocumentSnapshot]:
    """The real pipeline's output for every datasheet, cached on disk per code version.

    A fresh checkout (CI) always runs the real pipeline; a developer re-running the suite
    without touching library code reuses the last run's output.
    """
    from django.conf import settings

    # Shared by every data folder (parallel test runs use their own databases).
    cache = (
        Path(__file__).resolve().parent.parent
        / "var"
        / "cache"
        / f"datasheet-snapshot-{_pipeline_fingerprint()}.pickle"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    if cache.exists():
        snapshots = pickle.loads(cache.read_bytes())
        for snapshot in snapshots:  # the stored PDFs live under this run's MEDIA_ROOT
            stored = Path(settings.MEDIA_ROOT) / snapshot.file_name
            if not stored.exists():
                stored.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(DATASHEETS / snapshot.source_name, stored)
        return snapshots
    snapshots = _run_pipeline()
    for old in cache.parent.glob("datasheet-snapshot-*.pickle"):
        old.unlink()
    cache.write_bytes(pickle.dumps(snapshots))
    return snapshots


def _run_pipeline() -> list[DocumentSnapshot]:
    """Run the real pipeline on every datasheet inside a transaction that is rolled back."""
    from library.ingest import document_ingest
    from library.models import Chunk, Document, PageUnits
    from library.services import document_upload
    from orgs.services import org_create

    snapshots: list[DocumentSnapshot] = []
    with transaction.atomic():
        org = org_create(name="snapshot-org")
        for path in datasheet_paths():
            result = document_upload(org=org, filename=path.name, data=path.read_bytes(), enqueue=lambda _id: None)
            document_ingest(document_id=result.document.pk)
            document = Document.objects.get(pk=result.document.pk)
            assert document.status == Document.Status.READY, (path.name, document.error)
            chunks = [
                {**row, "embedding": [float(x) for x in row["embedding"]]}
                for row in Chunk.objects.filter(document=document)
                .order_by("ordinal")
                .values("page", "ordinal", "text", "token_count", "embedding")
            ]
            snapshots.append(
                DocumentSnapshot(
                    source_name=document.source_name,
                    file_name=document.file.name,
                    sha256=document.sha256,
                    size_bytes=document.size_bytes,
                    pages_total=document.pages_total or 0,
                    chunks=chunks,
                    profile=document.profile,
                    profile_embedding=(
                        [float(x) for x in document.profile_embedding]
                        if document.profile_embedding is not None
                        else None
                    ),
                    pipeline_version=document.pipeline_version,
                    ocr_pages=document.ocr_pages,
                    page_units=dict(
                        PageUnits.objects.filter(document=document).values_list("page", "units").order_by("page")
                    ),
                )
            )
        transaction.set_rollback(True)
    return snapshots


def restore_library(snapshots: list[DocumentSnapshot], org_name: str = DATASHEET_ORG):
    """Create `org_name` with the datasheet topics and the ingested documents; return the org."""
    from core import clock
    from library.models import Chunk, Document, PageUnits
    from orgs.models import Organization
    from topics.models import Topic

    with transaction.atomic():
        org = Organization.objects.create(name=org_name)
        topic_of = {}
        for topic_name, files in DATASHEET_TOPICS.items():
            topic = Topic.objects.create(org=org, name=topic_name)
            topic_of.update({file: topic for file in files})
        now = clock.now()
        for snapshot in snapshots:
            document = Document.objects.create(
                org=org,
                source_name=snapshot.source_name,
                file=snapshot.file_name,
                sha256=snapshot.sha256,
                size_bytes=snapshot.size_bytes,
                status=Document.Status.READY,
                pages_total=snapshot.pages_total,
                pages_done=snapshot.pages_total,
                queued_at=now,
                started_at=now,
                finished_at=now,
                profile=snapshot.profile,
                profile_embedding=snapshot.profile_embedding,
                pipeline_version=snapshot.pipeline_version,
                ocr_pages=snapshot.ocr_pages,
                live_ocr_pages=snapshot.ocr_pages,
            )
            if snapshot.source_name in topic_of:
                document.topics.add(topic_of[snapshot.source_name])
            Chunk.objects.bulk_create(
                [Chunk(document=document, org=org, **chunk) for chunk in snapshot.chunks], batch_size=1000
            )
            PageUnits.objects.bulk_create(
                [PageUnits(document=document, page=page, units=units) for page, units in snapshot.page_units.items()]
            )
    return org
