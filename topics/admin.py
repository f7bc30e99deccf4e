from django.contrib import admin

from orgs.admin import OrgScopedAdmin
from topics.models import Topic


@admin.register(Topic)
class TopicAdmin(OrgScopedAdmin):
    list_display = ["name", "org", "created_at"]
    list_filter = ["org"]
    search_fields = ["name", "description"]
