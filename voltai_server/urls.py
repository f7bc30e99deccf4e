"""Every route of the server. Only this module knows every app."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from voltai_server import health
from voltai_server.api_docs import ApiDocsView

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(), name="api-docs"),
    path("chat/", include("chat.urls")),
    path("library/", include("library.urls")),
    path("", include("chat.page_urls")),
    path("", include("library.page_urls")),
]

handler404 = "voltai_server.error_pages.not_found"
handler500 = "voltai_server.error_pages.server_error"
