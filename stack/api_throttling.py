"""API Gateway throttling for the web stages: Zappa's `post` callback applies it.

Zappa 0.63 has no setting for it (its stage settings cover logging, metrics and the
cache cluster), so each stage in zappa_settings.json names two keys of its own, which
Zappa ignores and this hook reads after every `zappa deploy` and `zappa update`:

- `throttling_rate_limit`: requests per second, steady, for the whole stage;
- `throttling_burst_limit`: requests at once, the token bucket's size.

They go on the stage's default method settings (`/*/*/throttling/...`), which every
route of Zappa's proxy resource inherits; API Gateway answers past them with 429 before
Lambda runs, so a flood costs neither invocations nor database connections. The limit
is for the stage as a whole: per-client limits are django-axes' (logins), the sign-up
throttle's, and the per-user limits on tasks in flight (a WAF rate-based rule would add
per-address limits in front; see docs/deploy.md).

Zappa loads this file by its path as a top-level module: it imports nothing of the
project, only the ZappaCLI it is handed.
"""

from dataclasses import dataclass
from typing import Any

RATE = "throttling_rate_limit"
BURST = "throttling_burst_limit"


@dataclass(frozen=True, slots=True)
class Throttling:
    rate_limit: float  # requests per second
    burst_limit: int  # requests at once

    def patch_operations(self) -> list[dict[str, str]]:
        return [
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(self.rate_limit)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(self.burst_limit)},
        ]


def throttling_of(stage_config: dict[str, Any]) -> Throttling:
    """The stage's throttling, checked: a stage deployed without it would take any load."""
    rate, burst = stage_config.get(RATE), stage_config.get(BURST)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
        raise ValueError(f"{RATE} must be a positive number of requests per second, not {rate!r}")
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise ValueError(f"{BURST} must be a whole number of requests, at least 1, not {burst!r}")
    return Throttling(float(rate), burst)


def apply_to_stage(apigateway: Any, api_id: str, stage: str, throttling: Throttling) -> None:
    apigateway.update_stage(
        restApiId=api_id, stageName=stage, patchOperations=throttling.patch_operations()
    )


def apply(cli: Any) -> None:
    """The `post` callback: Zappa passes its ZappaCLI once the stage is deployed."""
    throttling = throttling_of(cli.stage_config)
    api_id = cli.zappa.get_api_id(cli.lambda_name)
    if api_id is None:  # `apigateway_enabled: false`: no API, nothing to throttle
        return
    apply_to_stage(cli.zappa.apigateway_client, api_id, cli.api_stage, throttling)
    print(
        f"API Gateway stage {cli.api_stage}: throttled to {throttling.rate_limit:g} requests/s, "
        f"bursts of {throttling.burst_limit}"
    )
