"""API routes of the library app."""

urlpatterns: list = []
