from django.contrib import admin

from chat.models import Chat, Message
from orgs.admin import OrgScopedAdmin


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["role", "content", "mode", "status", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Chat)
class ChatAdmin(OrgScopedAdmin):
    list_display = ["id", "org", "user_id", "title", "updated_at"]
    list_filter = ["org"]
    search_fields = ["user_id", "title"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(OrgScopedAdmin):
    org_path = "chat__org"
    list_display = ["chat", "role", "mode", "status", "created_at"]
    list_filter = ["role", "mode", "status"]
    search_fields = ["content"]
