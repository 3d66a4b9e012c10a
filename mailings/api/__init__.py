"""The HTTP API at /api/v1/ (Django REST framework, described by drf-spectacular): the same
rows, rules and services as the admin. docs/api.md."""
