"""Web page routes of the library app."""

urlpatterns: list = []
