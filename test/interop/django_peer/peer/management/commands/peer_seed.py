"""
Creates users from a JSON list on stdin and prints them back with their ids and stored hashes:
[{"username": "alice", "password": "...", "is_active": true, "is_staff": false, "email": "...", "hasher": "argon2"}]
("hasher", optional, picks one of PASSWORD_HASHERS by algorithm name instead of the preferred one.)
"""
import json
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create test users from JSON on stdin"

    def handle(self, *args, **options):
        User = get_user_model()
        out = []
        for spec in json.load(sys.stdin):
            user = User.objects.create_user(
                username=spec["username"],
                email=spec.get("email", ""),
                password=spec["password"],
                is_active=spec.get("is_active", True),
                is_staff=spec.get("is_staff", False),
            )
            if spec.get("hasher"):
                user.password = make_password(spec["password"], hasher=spec["hasher"])
                user.save(update_fields=["password"])
            out.append({"username": user.username, "id": user.pk, "password": user.password})
        self.stdout.write(json.dumps(out))
