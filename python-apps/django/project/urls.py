import os

from django.urls import path

from . import views

urlpatterns = [
    path("status", views.status),
    path("io/sleep", views.io_sleep),
    path("io/sleep-blocking", views.io_sleep_blocking),
    path("orders", views.create_order),
    path("orders/inventory", views.orders_inventory),
    path("orders/reset", views.orders_reset),
    path("compute/leibniz", views.compute_leibniz),
    path("jobs/leibniz", views.leibniz_job),
    path("numeric/matmul", views.numeric_matmul),
    path("files/read", views.files_read),
    path("db/single", views.db_single),
    path("db/multiple", views.db_multiple),
    path("hybrid/notifications", views.hybrid_notifications),
]

# Sharkbench's web test: as Sharkbench's own Django apps, async views with httpx's AsyncClient
# under ASGI (uvicorn, target django), sync views with requests under WSGI (gunicorn, target
# django-wsgi). The entry point (asgi.py, wsgi.py) says which interface this is.
if os.environ.get("FACEOFF_DJANGO_INTERFACE") == "asgi":
    urlpatterns += [
        path("api/v1/periodic-table/element", views.periodic_element_async),
        path("api/v1/periodic-table/shells", views.periodic_shells_async),
    ]
else:
    urlpatterns += [
        path("api/v1/periodic-table/element", views.periodic_element_sync),
        path("api/v1/periodic-table/shells", views.periodic_shells_sync),
    ]

handler400 = "project.contract.bad_request"
handler403 = "project.contract.forbidden"
handler404 = "project.contract.not_found"
handler500 = "project.contract.server_error"
