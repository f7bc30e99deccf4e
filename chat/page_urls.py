"""Web page routes of the chat app: `/` and `/{org_name}/chat/...`."""

from django.urls import path

from chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("<str:org_name>/", views.org_home, name="org-home"),
    path("<str:org_name>/chat", views.org_home, name="chat-list-no-slash"),
    path("<str:org_name>/chat/", views.chat_list, name="chat-list"),
    path("<str:org_name>/chat/new", views.chat_new, name="chat-new"),
    path("<str:org_name>/chat/stream", views.chat_stream, name="chat-stream"),
    path("<str:org_name>/chat/<uuid:chat_id>", views.chat_thread, name="chat-thread"),
]
