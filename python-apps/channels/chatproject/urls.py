from django.http import JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET


@require_GET
def status(request):
    """Readiness, as the HTTP targets answer it."""
    return JsonResponse({"service": "edge-metrics", "status": "ok", "t_ms": 4})


urlpatterns = [path("status", status)]
