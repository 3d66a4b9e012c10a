"""The OpenAPI description: our endpoints only (not Wagtail's admin API), and how a token is
presented."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def only_the_api(endpoints, **kwargs):
    """drf-spectacular's preprocessing hook: keep /api/v1/ (the admin's own API is Wagtail's)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "mailings.api.auth.BearerTokenAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: create one in the admin (Mailings > API tokens) or "
            "with `manage.py create_api_token EMAIL`.",
        }
