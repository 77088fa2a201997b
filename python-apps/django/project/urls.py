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
    path("db/single", views.db_single),
    path("db/multiple", views.db_multiple),
    path("hybrid/notifications", views.hybrid_notifications),
]

handler400 = "project.contract.bad_request"
handler403 = "project.contract.forbidden"
handler404 = "project.contract.not_found"
handler500 = "project.contract.server_error"
