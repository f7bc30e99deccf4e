"""The OpenAPI 3 schema at /api/schema/ describes the chat endpoints as they really behave."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient


@pytest.fixture
def schema(db) -> dict:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_the_schema_is_openapi_3_with_the_api_key_header(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
    }
    assert {"ApiKeyAuth": []} in schema["paths"]["/chat/query/"]["post"]["security"]


def test_the_query_body_has_the_contracts_fields_types_and_defaults(schema: dict) -> None:
    operation = schema["paths"]["/chat/query/"]["post"]
    body = resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    assert sorted(body["required"]) == ["query", "user_id"]
    fields = body["properties"]
    assert fields["query"]["type"] == "string" and fields["query"]["maxLength"] == settings.QUERY_MAX_CHARS
    assert fields["user_id"]["maxLength"] == 255
    mode = resolve(schema, fields["mode"])
    assert mode.get("enum", resolve(schema, fields["mode"].get("allOf", [{}])[0]).get("enum")) is not None
    assert fields["mode"]["default"] == "AUTO"
    assert fields["chat_id"]["format"] == "uuid"
    assert fields["topic_names"]["type"] == "array" and fields["topic_names"]["items"]["type"] == "string"


def test_the_query_responses_cover_json_sse_and_every_error_status(schema: dict) -> None:
    responses = schema["paths"]["/chat/query/"]["post"]["responses"]
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    answer = resolve(schema, responses["200"]["content"]["application/json"]["schema"])
    assert sorted(answer["required"]) == ["chat_id", "chat_url", "final_answer", "mode", "sources"]
    source = resolve(schema, answer["properties"]["sources"]["items"])
    assert sorted(source["properties"]) == ["page", "source_name", "url"]
    assert answer["properties"]["mode"].get("nullable") is True
    for status in ("400", "401", "404", "413", "415", "429", "502", "504"):
        assert "application/json" in responses[status]["content"], status
    too_many = resolve(schema, responses["429"]["content"]["application/json"]["schema"])
    shapes = [resolve(schema, option) for option in too_many["oneOf"]]
    assert sorted(sorted(shape["required"]) for shape in shapes) == [
        ["active_seats", "available_seats", "error", "message", "total_seats"],
        ["error", "message", "user_id"],
    ]


def test_the_sessions_response_has_nullable_totals(schema: dict) -> None:
    operation = schema["paths"]["/chat/sessions/"]["get"]
    body = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert sorted(body["required"]) == ["active_user_ids", "available_sessions", "total_sessions", "used_sessions"]
    assert body["properties"]["total_sessions"]["nullable"] is True
    assert body["properties"]["available_sessions"]["nullable"] is True
    assert body["properties"]["used_sessions"].get("nullable") is not True
    assert "401" in operation["responses"]


@pytest.mark.django_db
def test_the_docs_page_is_served() -> None:
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert b"/api/schema/" in response.content
