"""Views for the shared contract (fixtures/), plus JSON error handlers.

Every response body is JSON, sent as `application/json; charset=utf-8` with compact
separators (the bytes JSON.stringify would produce), so all targets answer alike.
"""

from functools import wraps

from django.http import JsonResponse

CONTENT_TYPE = "application/json; charset=utf-8"


def json_response(data, status=200):
    return JsonResponse(
        data,
        status=status,
        content_type=CONTENT_TYPE,
        json_dumps_params={"separators": (",", ":")},
    )


def allow_methods(*methods):
    """Like django.views.decorators.http.require_http_methods, with a JSON 405 body."""

    def decorator(view):
        @wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                response = json_response({"error": "method not allowed"}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return inner

    return decorator


# Seed 004 (Express and FastAPI /status).
@allow_methods("GET")
def status(request):
    return json_response({"service": "edge-metrics", "status": "ok", "t_ms": 4})


# Error handlers (urls.py). Django uses them when DEBUG is False.
def bad_request(request, exception):
    return json_response({"error": "bad request"}, status=400)


def forbidden(request, exception):
    return json_response({"error": "forbidden"}, status=403)


def not_found(request, exception):
    return json_response({"error": "not found"}, status=404)


def server_error(request):
    return json_response({"error": "internal error"}, status=500)
