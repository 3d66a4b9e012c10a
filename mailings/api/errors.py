"""Errors as JSON: ``{"error": {"code": …, "message": …, "fields": {…}}}``, with a code a
program can test and a message in the request's language (``Accept-Language``); validation
errors per field (and, for a bulk request, per row)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.views import exception_handler


def _first_code(codes) -> str:
    while isinstance(codes, dict | list):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 page and the log
    if isinstance(exc, exceptions.ValidationError):
        error = {
            "code": _first_code(exc.get_codes()),
            "message": _("The request is not valid: see the fields."),
            "fields": response.data,
        }
    elif isinstance(exc, exceptions.APIException):
        error = {"code": _first_code(exc.get_codes()), "message": str(exc.detail)}
    else:  # Http404, PermissionDenied from Django
        error = {"code": "not_found" if response.status_code == 404 else "permission_denied"}
        error["message"] = str(response.data.get("detail", ""))
    response.data = {"error": error}
    return response
