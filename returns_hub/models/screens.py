"""What the screens keep for people: filters saved on a list page."""

from django.conf import settings
from django.db import models


class SavedFilter(models.Model):
    """A list page's query string kept under a name, for its owner (and everyone, shared)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    # The list page's URL name (``exceptions:index``, ``finance:postings``…), so a filter
    # is offered on the page it was saved on.
    screen = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    query = models.CharField("query string", max_length=2000, blank=True)
    shared = models.BooleanField(default=False, help_text="Offered to every user of the page.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "screen", "name"], name="saved_filter_name_once"
            ),
        ]
        indexes = [
            # A page's menu: the user's own (the unique constraint's index) and the shared ones.
            models.Index(
                fields=["screen", "name"],
                condition=models.Q(shared=True),
                name="saved_filter_shared",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.screen}: {self.name}"
