from django.db import models
from django.db.models.functions import Lower

from orgs.models import Organization


class Topic(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint("org", Lower("name"), name="topic_name_ci_unique_per_org")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
