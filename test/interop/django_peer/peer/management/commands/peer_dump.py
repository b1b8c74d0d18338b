"""Prints what the ORM reads from the shared tables, as JSON: users and outstanding/blacklisted tokens."""
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


def iso(value):
    return None if value is None else value.isoformat()


class Command(BaseCommand):
    help = "Dump users and tokens as JSON"

    def handle(self, *args, **options):
        users = [
            {
                "id": u.pk,
                "username": u.username,
                "password": u.password,
                "is_active": u.is_active,
                "is_staff": u.is_staff,
                "last_login": iso(u.last_login),
                "date_joined": iso(u.date_joined),
            }
            for u in get_user_model().objects.order_by("pk")
        ]
        tokens = [
            {
                "jti": t.jti,
                "user_id": t.user_id,
                "token": t.token,
                "created_at": iso(t.created_at),
                "expires_at": iso(t.expires_at),
                "blacklisted_at": iso(getattr(getattr(t, "blacklistedtoken", None), "blacklisted_at", None)),
            }
            for t in OutstandingToken.objects.select_related("blacklistedtoken").order_by("pk")
        ]
        self.stdout.write(json.dumps({"users": users, "tokens": tokens}))
