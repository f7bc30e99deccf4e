"""What `page_search` returns on the real datasheets, to compare before and after a change of
the search SQL (the ranking must not move).

    nice -n 5 .venv/bin/python bench/search_outputs.py var/search-before.json
    nice -n 5 .venv/bin/python bench/search_outputs.py var/search-after.json --compare var/search-before.json

The library is the test suite's (its cached ingestion snapshot of ../shared/datasheets), restored
into two organizations so that the org filter has another org's chunks to leave out. Every
question of dev_qa.jsonl and bench/qa_extra.jsonl is asked with the org filter, with each of
the org's topics, and with its expected document; saved per search: the pages (file, page,
chunk ids, score) and the question's term weights.
"""

import argparse
import json
import sys
from pathlib import Path

from _django import setup_django  # bench/ is first on sys.path when a script runs

ROOT = setup_django("search-outputs")

from django.core.management import call_command  # noqa: E402

from library.embeddings import embed_question  # noqa: E402
from library.models import Document  # noqa: E402
from library.search import page_search  # noqa: E402
from orgs.models import Organization  # noqa: E402
from topics.models import Topic  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.datasheets import DATASHEET_ORG, restore_library, snapshot_ingestion  # noqa: E402

QUESTION_FILES = [ROOT.parent / "shared" / "datasheets" / "dev_qa.jsonl", ROOT / "bench" / "qa_extra.jsonl"]


def library() -> Organization:
    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(name=DATASHEET_ORG).first()
    if org is None:
        snapshots = snapshot_ingestion()
        org = restore_library(snapshots)
        restore_library(snapshots, org_name="Other datasheets")
    return org


def outputs(org: Organization) -> dict[str, dict]:
    questions = [json.loads(line) for path in QUESTION_FILES for line in path.read_text().splitlines() if line.strip()]
    documents = dict(Document.objects.filter(org=org).values_list("source_name", "pk"))
    topics = list(Topic.objects.filter(org=org).order_by("name").values_list("pk", flat=True))
    found: dict[str, dict] = {}
    for number, item in enumerate(questions):
        vector = embed_question(item["question"])
        scopes: list[tuple[str, list[int] | None, list[int] | None]] = [("org", None, None)]
        scopes += [(f"topic{topic}", [topic], None) for topic in topics]
        if item.get("source_name") in documents:
            scopes.append(("document", None, [documents[item["source_name"]]]))
        for label, topic_ids, document_ids in scopes:
            result = page_search(
                org=org,
                query=item["question"],
                topic_ids=topic_ids,
                document_ids=document_ids,
                query_embedding=vector,
            )
            found[f"{number}:{label}"] = {
                "weights": {lex: round(w, 9) for lex, w in result.terms.weights.items()},
                "pages": [[page.source_name, page.page, page.chunk_ids, round(page.score, 9)] for page in result.pages],
            }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--compare", type=Path, help="an earlier output: print the searches that differ")
    args = parser.parse_args()
    found = outputs(library())
    args.output.write_text(json.dumps(found, indent=1) + "\n")
    print(f"{len(found)} searches saved to {args.output}")
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = [key for key in sorted(set(before) | set(found)) if before.get(key) != found.get(key)]
        print(f"{len(differ)} of {len(found)} searches differ from {args.compare}")
        for key in differ[:20]:
            print(key, before.get(key), found.get(key), sep="\n  ")
        if differ:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
