"""Web page routes of the chat app."""

urlpatterns: list = []
