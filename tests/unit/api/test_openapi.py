"""The OpenAPI document: valid OpenAPI 3.1, generated from the models, covering every
route, with problem+json errors and the bearer scheme; the docs page works offline."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from api.auth import PUBLIC_ENDPOINTS
from taskbeat.tasks.fields import TaskChanges, TaskDefinition, TaskView
from taskbeat.views import ExecutionView


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")  # no key needed
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_of_the_api_is_an_operation(app, document):
    undocumented = PUBLIC_ENDPOINTS - {"health.health"}  # the document and its page
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and rule.endpoint not in undocumented
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented


def test_errors_are_problem_json_and_every_operation_but_health_needs_a_key(document):
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            # gunicorn's own refusals (a malformed request, a request line or headers
            # over its limits) may answer any request, health's too.
            statuses = ["400", "414", "431"]
            if path.endswith("/health"):
                assert "security" not in operation
            else:
                assert operation["security"] == [{"bearer": []}], (method, path)
                statuses += ["401", "403", "422", "429"]
            for status in statuses:
                content = operation["responses"][status]["content"]
                assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_the_task_schemas_are_the_models_themselves(document):
    schemas = document["components"]["schemas"]
    for model in (TaskDefinition, TaskChanges, TaskView, ExecutionView):
        assert set(schemas[model.__name__]["properties"]) == set(model.model_fields)
    create = document["paths"]["/api/v1/tasks"]["post"]["requestBody"]["content"]
    assert create["application/json"]["schema"]["$ref"].endswith("/TaskDefinition")


def test_a_created_task_links_to_what_a_client_does_next(document):
    created = document["paths"]["/api/v1/tasks"]["post"]["responses"]["201"]
    links = {link["operationId"] for link in created["links"].values()}
    assert {"get_task", "patch_task", "run_task", "delete_task"} <= links


def test_the_docs_page_needs_no_key_and_loads_nothing_from_elsewhere(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) == 4 and not any("//" in asset for asset in assets)
    for asset in assets:
        response = client.get(f"/api/v1/{asset}")
        assert response.status_code == 200
        response.close()  # a file served by send_file
