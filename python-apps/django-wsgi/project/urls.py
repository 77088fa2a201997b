from django.urls import path

from . import views

urlpatterns = [
    path("status", views.status),
]

handler400 = "project.views.bad_request"
handler403 = "project.views.forbidden"
handler404 = "project.views.not_found"
handler500 = "project.views.server_error"
