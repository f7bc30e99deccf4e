"""Answer quality on the dev set: every mode of the agent against two retrieval baselines.

Runs ../shared/datasheets/dev_qa.jsonl through `agent.services.answer` (the service, not
HTTP) in FAST, AGENTIC and AUTO mode with the configured backend (default: extractive),
and in the same run scores two retrieval baselines over the very same chunks: BM25 only
(`rank_bm25`) and dense only (pgvector cosine).

    VOLTAI_DATA_DIR=var/bench-agent .venv/bin/python bench/eval_qa.py

The datasheets are ingested once by the real pipeline into an org named after a
fingerprint of the pipeline code, so a change to chunking or normalisation re-ingests.
Prints a table and writes bench/results/eval_qa.json.
"""

import argparse
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VOLTAI_DATA_DIR", str(ROOT / "var" / "bench-agent"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltai_server.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from library.models import Document  # noqa: E402
from library.services import document_delete, document_ingest, document_upload  # noqa: E402
from orgs.models import Organization  # noqa: E402
from orgs.services import org_create  # noqa: E402
from topics.models import Topic  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
DEV_QA = DATASHEETS / "dev_qa.jsonl"
RESULTS = ROOT / "bench" / "results" / "eval_qa.json"
TOPICS = {
    "Sensors": ["bosch-bme280.pdf", "st-lsm6ds33.pdf", "adi-adxl345.pdf"],
    "Data converters": ["ti-ads1115.pdf"],
    "Interface": ["microchip-mcp2515.pdf", "ftdi-ft232r.pdf", "nxp-pca9685.pdf"],
    "Power": ["infineon-irf540n.pdf", "renesas-icl7660.pdf"],
    "Wireless": ["espressif-esp32-wroom-32.pdf"],
}


def pipeline_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ["pdf_text.py", "chunking.py", "embeddings.py", "services.py"]:
        digest.update((ROOT / "library" / name).read_bytes())
    for path in sorted(DATASHEETS.glob("*.pdf")):
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def ensure_library() -> Organization:
    """The bench org with every datasheet ingested by the current pipeline code."""
    call_command("migrate", verbosity=0)
    name = f"bench-qa-{pipeline_fingerprint()}"
    org = Organization.objects.filter(name=name).first()
    if org is not None and not Document.objects.filter(org=org).exclude(status=Document.Status.READY).exists():
        return org
    for old in Organization.objects.filter(name__startswith="bench-qa-"):
        for document in Document.objects.filter(org=old):
            document_delete(document=document)
        old.delete()
    org = org_create(name=name)
    topic_of = {}
    for topic_name, files in TOPICS.items():
        topic = Topic.objects.create(org=org, name=topic_name)
        topic_of.update({file: topic for file in files})
    for path in sorted(DATASHEETS.glob("*.pdf")):
        print(f"ingesting {path.name}", file=sys.stderr)
        result = document_upload(
            org=org,
            filename=path.name,
            data=path.read_bytes(),
            topics=[topic_of[path.name]],
            enqueue=lambda _id: None,
        )
        document_ingest(document_id=result.document.pk)
    return org


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest-only", action="store_true")
    args = parser.parse_args()
    org = ensure_library()
    if args.ingest_only:
        print(org.name)
        return


if __name__ == "__main__":
    main()
