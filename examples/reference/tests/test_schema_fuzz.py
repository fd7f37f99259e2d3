"""schemathesis against the served OpenAPI schema: no 5xx anywhere, and every documented
answer matches its schema, for requests generated from the schema itself (with an admin key,
so that requests get past authentication to the handlers)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from omskit_reference import Deployment, Scope, create_app

#: Examples per operation: enough to walk each one's parameters and bodies, small enough
#: for CI (about 30 operations, on two databases).
EXAMPLES = 20


def test_no_server_error_and_answers_match_the_schema(deployment: Deployment) -> None:
    app = create_app(deployment)
    token = deployment.keys.issue("fuzz", Scope.ADMIN).token
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        check()
