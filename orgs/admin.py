"""Admin for organizations, keys and memberships, and the org scoping every app's admin shares.

Superusers see everything. A staff user who is an admin of some organizations sees and edits
only those organizations' rows, without needing Django model permissions.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from orgs.models import ApiKey, Membership, Organization
from orgs.selectors import admin_org_ids
from orgs.services import api_key_create


class OrgScopedAdmin(admin.ModelAdmin):
    """Limits rows to the orgs the user administers. `org_path` is the lookup to the org."""

    org_path = "org"

    def _org_ids(self, request: HttpRequest) -> list[int]:
        if not hasattr(request, "_voltai_admin_org_ids"):
            request._voltai_admin_org_ids = admin_org_ids(user=request.user)  # type: ignore[attr-defined]
        return request._voltai_admin_org_ids  # type: ignore[attr-defined]

    def _allowed(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return True
        org_ids = self._org_ids(request)
        if not org_ids or not request.user.is_staff:
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.org_path}__in": self._org_ids(request)})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "org" and not request.user.is_superuser:
            kwargs["queryset"] = Organization.objects.filter(pk__in=self._org_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj)


@admin.register(Organization)
class OrganizationAdmin(OrgScopedAdmin):
    org_path = "pk"
    list_display = ["name", "max_sessions", "created_at"]
    search_fields = ["name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser


@admin.register(ApiKey)
class ApiKeyAdmin(OrgScopedAdmin):
    list_display = ["prefix", "label", "org", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["org"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at"]
    fields = ["org", "label", "prefix", "secret_hash", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = api_key_create(org=obj.org, label=obj.label)
        obj.pk = issued.api_key.pk
        obj.prefix, obj.secret_hash = issued.api_key.prefix, issued.api_key.secret_hash
        messages.warning(request, f"New API key (copy it now, it is not shown again): {issued.raw_key}")


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdmin):
    list_display = ["user", "org", "role", "created_at"]
    list_filter = ["org", "role"]
    autocomplete_fields = ["user"]
